"""The model catalog: one entry of facts per model (unknown stays unknown), filters and sorting, and the Hugging Face Hub search."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "ARCHITECTURES": "entries",
        "SORT_KEYS": "entries",
        "CatalogEntry": "entries",
        "CatalogFilter": "entries",
        "catalog": "entries",
        "filter_and_sort": "entries",
        "table_rows": "entries",
        "yes_no_unknown": "entries",
        "SORTS": "hub",
        "HubModel": "hub",
        "HubQuery": "hub",
        "HubUnavailableError": "hub",
        "search_hub": "hub",
    },
)
