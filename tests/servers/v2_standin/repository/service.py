"""Plugin / Repository services of the 2.x stand-in, following the public 2.x source of
cloudforet-io/repository (service/plugin_service.py): same decorators, role types,
required keys, image checks and repository search order."""

import copy
import logging
import re

from spaceone.core import config
from spaceone.core.service import *  # noqa: F403

from v2_standin.repository.error import *  # noqa: F403
from v2_standin.repository.manager import (
    LocalPluginManager,
    ManagedPluginManager,
    RepositoryManager,
)

__all__ = ["PluginService", "RepositoryService"]

_LOGGER = logging.getLogger(__name__)

MAX_IMAGE_NAME_LENGTH = 48


@authentication_handler
@authorization_handler
@mutation_handler
@event_handler
class PluginService(BaseService):
    resource = "Plugin"

    @transaction(permission="repository:Plugin.write", role_types=["DOMAIN_ADMIN"])
    @check_required(["name", "resource_type", "image", "domain_id"])
    def register(self, params: dict) -> dict:
        registry_type = params.get("registry_type", "DOCKER_HUB")
        image = params["image"]
        plugin_id = params.get("plugin_id")
        if plugin_id is None:
            plugin_id = self._get_image_name(image)

        self._check_image(image)
        self._check_registry_type(registry_type)

        repo_mgr: RepositoryManager = self.locator.get_manager(RepositoryManager)
        repo_info = repo_mgr.get_local_repository()

        params["plugin_id"] = plugin_id
        params["registry_type"] = registry_type
        params["repository_id"] = repo_info["repository_id"]

        plugin_mgr: LocalPluginManager = self.locator.get_manager(LocalPluginManager)
        return plugin_mgr.create_plugin(params)

    @transaction(permission="repository:Plugin.write", role_types=["DOMAIN_ADMIN"])
    @check_required(["plugin_id", "domain_id"])
    def update(self, params: dict) -> dict:
        plugin_mgr: LocalPluginManager = self.locator.get_manager(LocalPluginManager)
        return plugin_mgr.update_plugin(params)

    @transaction(permission="repository:Plugin.write", role_types=["DOMAIN_ADMIN"])
    @check_required(["plugin_id", "domain_id"])
    def enable(self, params: dict) -> dict:
        plugin_mgr: LocalPluginManager = self.locator.get_manager(LocalPluginManager)
        return plugin_mgr.enable_plugin(params["plugin_id"], params["domain_id"])

    @transaction(permission="repository:Plugin.write", role_types=["DOMAIN_ADMIN"])
    @check_required(["plugin_id", "domain_id"])
    def disable(self, params: dict) -> dict:
        plugin_mgr: LocalPluginManager = self.locator.get_manager(LocalPluginManager)
        return plugin_mgr.disable_plugin(params["plugin_id"], params["domain_id"])

    @transaction(permission="repository:Plugin.write", role_types=["DOMAIN_ADMIN"])
    @check_required(["plugin_id", "domain_id"])
    def deregister(self, params: dict) -> None:
        plugin_mgr: LocalPluginManager = self.locator.get_manager(LocalPluginManager)
        plugin_mgr.delete_plugin(params["plugin_id"], params["domain_id"])

    @transaction(
        permission="repository:Plugin.read",
        role_types=["DOMAIN_ADMIN", "WORKSPACE_OWNER", "WORKSPACE_MEMBER"],
    )
    @check_required(["plugin_id"])
    def get_versions(self, params: dict) -> list:
        plugin_id = params["plugin_id"]
        domain_id = params.get("domain_id")
        for repo_info in RepositoryManager.get_repositories(params.get("repository_id")):
            plugin_mgr = self._get_plugin_manager_by_repo(repo_info["repository_type"])
            try:
                return plugin_mgr.get_plugin_versions(repo_info, plugin_id, domain_id)
            except Exception as e:
                _LOGGER.debug(f"[get_versions] {plugin_id} not in {repo_info['name']}: {e}")
        raise ERROR_NO_PLUGIN(plugin_id=plugin_id)

    @transaction(
        permission="repository:Plugin.read",
        role_types=["DOMAIN_ADMIN", "WORKSPACE_OWNER", "WORKSPACE_MEMBER", "USER"],
    )
    @check_required(["plugin_id"])
    def get(self, params: dict) -> dict:
        plugin_id = params["plugin_id"]
        domain_id = params.get("domain_id")
        for repo_info in RepositoryManager.get_repositories(params.get("repository_id")):
            plugin_mgr = self._get_plugin_manager_by_repo(repo_info["repository_type"])
            try:
                return plugin_mgr.get_plugin(repo_info, plugin_id, domain_id)
            except Exception as e:
                _LOGGER.debug(f"[get] {plugin_id} not in {repo_info['name']}: {e}")
        raise ERROR_NO_PLUGIN(plugin_id=plugin_id)

    @transaction(
        permission="repository:Plugin.read",
        role_types=["DOMAIN_ADMIN", "WORKSPACE_OWNER", "WORKSPACE_MEMBER", "USER"],
    )
    @append_query_filter(["plugin_id", "name", "state", "resource_type", "provider", "registry_type"])
    def list(self, params: dict):
        query = params.get("query", {})
        query["only"] = query.get("only", [])
        if "registry_url" in query["only"]:
            query["only"].remove("registry_url")

        repo_mgr: RepositoryManager = self.locator.get_manager(RepositoryManager)
        if repository_id := params.get("repository_id"):
            repo_info = repo_mgr.get_repository(repository_id)
            plugin_mgr = self._get_plugin_manager_by_repo(repo_info["repository_type"])
            return plugin_mgr.list_plugins(repo_info, query, params)

        results, total_count = [], 0
        query_page = query.pop("page", None)
        for repo_info in repo_mgr.get_repositories():
            plugin_mgr = self._get_plugin_manager_by_repo(repo_info["repository_type"])
            infos, count = plugin_mgr.list_plugins(repo_info, copy.deepcopy(query), params)
            results += infos
            total_count += count

        if query_page and query_page.get("limit"):
            start = int(query_page.get("start", 1)) - 1
            results = results[start:start + int(query_page["limit"])]
        return results, total_count

    def _get_plugin_manager_by_repo(self, repository_type: str):
        if repository_type == "LOCAL":
            return self.locator.get_manager(LocalPluginManager)
        return self.locator.get_manager(ManagedPluginManager)

    @staticmethod
    def _get_image_name(image: str) -> str:
        return image.rsplit("/", 1)[-1]

    @staticmethod
    def _check_registry_type(registry_type: str) -> None:
        # Upstream: an unknown type raises AttributeError ('NoneType' ... 'get') -> ERROR_UNKNOWN.
        registry_url = config.get_global("REGISTRY_INFO", {}).get(registry_type).get("url", "")
        if registry_url.strip() == "":
            raise ERROR_REGISTRY_SETTINGS(registry_type=registry_type)

    def _check_image(self, image: str) -> bool:
        image_name = self._get_image_name(image)
        if len(image_name) > MAX_IMAGE_NAME_LENGTH:
            raise ERROR_INVALID_IMAGE_LENGTH(name=image_name, length=MAX_IMAGE_NAME_LENGTH)

        # Same expression as upstream, quirk included: a single bad trailing
        # character passes.
        m = re.search("(?![a-zA-Z0-9\\-]).*", image_name)
        if m:
            if len(m.group()) > 1:
                raise ERROR_INVALID_IMAGE_NAME_FORMAT(name=image_name)
            return True
        raise ERROR_INVALID_IMAGE_NAME_FORMAT(name=image_name)


@authentication_handler
@authorization_handler
@mutation_handler
@event_handler
class RepositoryService(BaseService):
    resource = "Repository"

    @transaction(
        permission="repository:Repository.read",
        role_types=["DOMAIN_ADMIN", "WORKSPACE_OWNER", "WORKSPACE_MEMBER", "USER"],
    )
    def list(self, params: dict) -> list:
        return RepositoryManager.get_repositories(
            params.get("repository_id"), params.get("repository_type")
        )
