"""De-identification at ingestion: the masking ExampleGen and the TF ops it (and serving) runs."""
