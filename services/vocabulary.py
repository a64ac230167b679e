"""Closed vocabularies shared by the workflow definitions, the order service and the UI.

Values are stored in the database and appear in workflow files, so they never change
once released; their titles live in the locale catalogs.
"""

# Staff roles in a shop. The owner and admins may do whatever any staff role may (C2).
OWNER = "owner"
ADMIN = "admin"
STAFF_ROLES = ("owner", "admin", "manager", "packer", "courier", "accountant")
SUPERVISOR_ROLES = frozenset({OWNER, ADMIN})

# How the buyer pays. Cash on delivery is paid at the door; the others before shipping.
PAYMENT_METHODS = ("cash", "cash_on_delivery", "card", "bank_transfer", "online")
NON_CASH_PAYMENT_METHODS = ("card", "bank_transfer", "online")

# How the goods reach the buyer.
DELIVERY_METHODS = ("pickup", "courier", "post", "carrier")

# Whether an order's goods are on the shelf or made for the buyer; never mixed in one order (000).
IN_STOCK = "in_stock"
MADE_TO_ORDER = "made_to_order"
AVAILABILITIES = (IN_STOCK, MADE_TO_ORDER)

# Languages the bot speaks; the first is the default.
LANGUAGES = ("ru", "uk", "en")
DEFAULT_LANGUAGE = "ru"
