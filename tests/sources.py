"""The Source adapters a run with the default settings picks, for tests that call discovery
directly."""

from docflow.adapters.sources import Sources
from docflow.core.settings import DocflowSettings

SOURCES = Sources(DocflowSettings().remote_timeout_s)
