"""Newsletter and communications pipeline for resource centres of urban policy.

The domain package: it never imports Prefect. ``flows/`` wraps it.
"""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/irev-hdf/newsletter-pipeline"
USER_AGENT = f"newsletter-pipeline/{__version__} (+{PROJECT_URL})"
