"""Data validation: stops the run before Transform when ExampleValidator found anomalies."""
