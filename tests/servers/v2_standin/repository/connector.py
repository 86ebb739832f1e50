import logging

import requests
from packaging.version import InvalidVersion, Version

from spaceone.core.connector import BaseConnector

from v2_standin.repository.error import ERROR_NO_IMAGE_IN_REGISTRY

__all__ = ["OCIRegistryConnector"]

_LOGGER = logging.getLogger(__name__)


def sort_versions(tags):
    """Newest first for tags that parse as versions (packaging.version, as the 2.x
    HARBOR connector sorts); tags that do not parse follow in registry order."""
    parsed, others = [], []
    for tag in tags:
        try:
            parsed.append((Version(tag), tag))
        except InvalidVersion:
            others.append(tag)
    parsed.sort(key=lambda x: x[0], reverse=True)
    return [t for _, t in parsed] + others


class OCIRegistryConnector(BaseConnector):
    """GET <base_url>/v2/<image>/tags/list (OCI distribution API), for every
    registry_type: the stand-in talks to one loopback registry."""

    def get_tags(self, registry_type: str, image: str) -> list:
        base_url = self.config.get("base_url", "").rstrip("/")
        headers = {}
        if token := self.config.get("token"):
            headers["authorization"] = f"Basic {token}"
        url = f"{base_url}/v2/{image}/tags/list"
        response = requests.get(url, headers=headers, verify=self.config.get("verify", True), timeout=30)
        if response.status_code != 200:
            _LOGGER.error(f"[get_tags] {url}: HTTP {response.status_code} {response.text[:200]}")
            raise ERROR_NO_IMAGE_IN_REGISTRY(registry_type=registry_type, image=image)
        return sort_versions(response.json().get("tags") or [])
