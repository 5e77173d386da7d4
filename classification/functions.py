"""What a senior executive runs: the values the rules' `functions:` section names.

Plain data, so the engine (which imports no Django) and the models (Function choices) share one list.
"""

FUNCTIONS = {
    "general": "General management",
    "sales": "Sales",
    "marketing": "Marketing",
    "finance": "Finance",
    "engineering": "Engineering and technology",
    "product": "Product",
    "operations": "Operations",
    "people": "People (HR)",
    "legal": "Legal",
    "customer": "Customer (success, support, experience)",
    "data": "Data and AI",
    "it_security": "IT and security",
    "other": "Other",
}
# A senior title that names no function and whose role has no default of its own.
NO_FUNCTION = "other"
