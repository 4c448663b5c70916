"""Versions: the distribution's, and the plugin API's that plugins declare support for."""

__version__ = "0.1.0"

# Bumped in its major part when a change breaks plugins written against the hooks or LLMBase.
# 1.1: factories may take (config, identity); LLMBase.__init__ takes the identity too.
API_VERSION = "1.1"
