"""A small WhatsApp-style catalog web app shipped with the package, for the demo and tests."""

from pipeline.sample_site.catalog import (
    GRAPH_TOKEN,
    SampleCatalog,
    SampleProduct,
    SampleSeller,
    format_price,
)
from pipeline.sample_site.server import GraphFault, SampleSite

__all__ = [
    "GRAPH_TOKEN",
    "GraphFault",
    "SampleCatalog",
    "SampleProduct",
    "SampleSeller",
    "SampleSite",
    "format_price",
]
