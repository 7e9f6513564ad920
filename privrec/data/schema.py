"""The raw input layout every data source is converted to (one CSV row per interaction)."""

# Interactions file columns, in order. Direct identifiers never leave ExampleGen's executor.
USER_ID = "user_id"
DIRECT_IDENTIFIERS = ("name", "phone", "email", "address")
QUASI_IDENTIFIERS = ("birth_date", "gender", "city")
ORDER_AMOUNT = "order_amount"  # purchases: amount paid; clicks: empty
TIMESTAMP = "timestamp"
QUERY = "query"
RECENT_ITEM_IDS = "recent_item_ids"  # space-separated item ids the user interacted with before
ITEM_ID = "item_id"
EVENT_TYPE = "event_type"  # click | purchase

INTERACTION_COLUMNS = (
    (TIMESTAMP, USER_ID) + DIRECT_IDENTIFIERS + QUASI_IDENTIFIERS
    + (ORDER_AMOUNT, QUERY, RECENT_ITEM_IDS, ITEM_ID, EVENT_TYPE)
)

# Added by ExampleGen to every masked example: 1 when the item has no interaction in the
# training (first) split, i.e. it is first seen later: the Evaluator's cold-start slice.
COLD_START_ITEM = "cold_start_item"

# Public product catalog columns.
CATALOG_COLUMNS = ("item_id", "title", "description", "category", "brand", "price")

INTERACTIONS_DIR = "interactions"  # <data_dir>/interactions/*.csv is ExampleGen's input_base
CATALOG_FILE = "catalog.csv"       # <data_dir>/catalog.csv is the public catalog
