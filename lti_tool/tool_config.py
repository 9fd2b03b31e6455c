"""A pylti1p3 tool config read from the platform registry, signing with the tool's active key.

Deep linking responses and LTI Advantage service calls (AGS, NRPS) go through pylti1p3 objects
built on this config, so they use the same registrations as launches and the same key the JWKS
serves.
"""

from __future__ import annotations

import json

from jwcrypto.jwk import JWK
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from keys import service as keys_service
from lti_tool import registry
from lti_tool.models import PlatformClient


class DatabaseToolConf(ToolConfAbstract):
    """Every issuer may have many client ids (Canvas): registrations are found by both."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args, **kwargs) -> Registration | None:
        clients = registry.clients_of_issuer(iss)
        return self.registration_for(clients[0]) if len(clients) == 1 else None

    def find_registration_by_params(self, iss: str, client_id: str, *args, **kwargs) -> Registration | None:
        client = registry.find_client(iss, client_id)
        return self.registration_for(client) if client else None

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        clients = registry.clients_of_issuer(iss)
        if len(clients) != 1:
            return None
        return self._deployment(clients[0], deployment_id)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str, *args, **kwargs):
        client = registry.find_client(iss, client_id)
        return self._deployment(client, deployment_id) if client else None

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs):
        return keys_service.public_jwks()

    @staticmethod
    def _deployment(client: PlatformClient, deployment_id: str) -> LtiDeployment | None:
        if registry.find_deployment(client, deployment_id) is None:
            return None
        return LtiDeployment().set_deployment_id(deployment_id)

    @staticmethod
    def registration_for(client: PlatformClient) -> Registration:
        platform = client.platform
        key = keys_service.active_key()
        registration = (
            Registration()
            .set_issuer(client.issuer)
            .set_client_id(client.client_id)
            .set_auth_login_url(platform.auth_url)
            .set_auth_token_url(platform.token_url)
            .set_tool_private_key(keys_service.private_pem(key))
            .set_tool_public_key(key.public_pem)
        )
        if platform.jwks_url:
            registration.set_key_set_url(platform.jwks_url)
        else:
            jwk = json.loads(JWK.from_pem(platform.public_key.encode()).export_public())
            registration.set_key_set({"keys": [{**jwk, "alg": "RS256", "use": "sig"}]})
        return registration
