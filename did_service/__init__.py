"""did_service: a W3C Verifiable Credential issuer and verifier with a transparency log."""

__version__ = "0.1.0"
