"""The tool's own RSA signing keys: generation, encrypted storage, rotation, JWKS."""
