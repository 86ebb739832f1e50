import copy
import logging

from spaceone.core import config
from spaceone.core.manager import BaseManager

from v2_standin.repository.connector import OCIRegistryConnector
from v2_standin.repository.error import *  # noqa: F403
from v2_standin.repository.model import Plugin

__all__ = ["RepositoryManager", "LocalPluginManager", "ManagedPluginManager"]

_LOGGER = logging.getLogger(__name__)


class RepositoryManager(BaseManager):
    @staticmethod
    def get_repositories(repository_id: str = None, repository_type: str = None) -> list:
        repositories = config.get_global("REPOSITORIES", [])
        if repository_id:
            repositories = [r for r in repositories if r["repository_id"] == repository_id]
        if repository_type:
            repositories = [r for r in repositories if r["repository_type"] == repository_type]
        return list(repositories)

    def get_repository(self, repository_id: str) -> dict:
        repos = self.get_repositories(repository_id=repository_id)
        if not repos:
            raise ERROR_NOT_FOUND_REPOSITORY(repository_id=repository_id)
        return repos[0]

    def get_local_repository(self) -> dict:
        repos = self.get_repositories(repository_type="LOCAL")
        if len(repos) != 1:
            raise ERROR_ONLY_ONE_LOCAL_REPOSITORY_CAN_BE_REGISTERED(local_repository_count=len(repos))
        return repos[0]


def _registry_info(registry_type: str) -> dict:
    return config.get_global("REGISTRY_INFO", {}).get(registry_type) or {}


def change_response(plugin_info: dict, repo_info: dict) -> dict:
    info = _registry_info(plugin_info.get("registry_type"))
    plugin_info["registry_url"] = info.get("url", "")
    # As upstream 2.x: the server's REGISTRY_INFO entry, not the request's registry_config.
    plugin_info["registry_config"] = {k: v for k, v in info.items() if k != "url"}
    plugin_info["repository_info"] = {
        "repository_id": repo_info["repository_id"],
        "name": repo_info["name"],
        "repository_type": repo_info["repository_type"],
    }
    return plugin_info


class LocalPluginManager(BaseManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plugin_model = Plugin
        self.repo_info = RepositoryManager.get_repositories(repository_type="LOCAL")[0]

    def create_plugin(self, params: dict) -> dict:
        def _rollback(vo):
            _LOGGER.info(f"[ROLLBACK] delete plugin {vo.plugin_id} ({vo.domain_id})")
            vo.delete()

        plugin_vo = self.plugin_model.create(params)
        self.transaction.add_rollback(_rollback, plugin_vo)

        try:
            versions = self.get_plugin_versions(self.repo_info, plugin_vo.plugin_id, plugin_vo.domain_id)
        except Exception as e:
            _LOGGER.error(f"[create_plugin] cannot list tags: {e}")
            versions = []

        if len(versions) == 0:
            raise ERROR_NO_IMAGE_IN_REGISTRY(registry_type=plugin_vo.registry_type, image=plugin_vo.image)

        return change_response(plugin_vo.to_dict(), self.repo_info)

    def update_plugin(self, params: dict) -> dict:
        plugin_vo = self.plugin_model.get(plugin_id=params["plugin_id"], domain_id=params["domain_id"])
        return self.update_plugin_by_vo(params, plugin_vo)

    def enable_plugin(self, plugin_id, domain_id) -> dict:
        plugin_vo = self.plugin_model.get(plugin_id=plugin_id, domain_id=domain_id)
        return self.update_plugin_by_vo({"state": "ENABLED"}, plugin_vo)

    def disable_plugin(self, plugin_id, domain_id) -> dict:
        plugin_vo = self.plugin_model.get(plugin_id=plugin_id, domain_id=domain_id)
        return self.update_plugin_by_vo({"state": "DISABLED"}, plugin_vo)

    def update_plugin_by_vo(self, params: dict, plugin_vo) -> dict:
        def _rollback(old_data):
            plugin_vo.update(old_data)

        self.transaction.add_rollback(_rollback, plugin_vo.to_dict())
        plugin_vo = plugin_vo.update(copy.deepcopy(params))
        return change_response(plugin_vo.to_dict(), self.repo_info)

    def delete_plugin(self, plugin_id, domain_id) -> None:
        plugin_vo = self.plugin_model.get(plugin_id=plugin_id, domain_id=domain_id)
        plugin_vo.delete()

    def get_plugin(self, repo_info: dict, plugin_id: str, domain_id: str) -> dict:
        plugin_vo = self.plugin_model.get(plugin_id=plugin_id, domain_id=domain_id)
        return change_response(plugin_vo.to_dict(), self.repo_info)

    def list_plugins(self, repo_info: dict, query: dict, params: dict):
        domain_id = params.get("domain_id")
        query["filter"] = query.get("filter", [])
        if domain_id:
            query["filter"].append({"k": "domain_id", "v": domain_id, "o": "eq"})
        if keyword := query.get("keyword"):
            query["filter_or"] = query.get("filter_or", [])
            query["filter_or"].append({"k": "name", "v": keyword, "o": "contain"})
        query.pop("keyword", None)
        if "repository_info" in query.get("only", []):
            query["only"].remove("repository_info")

        plugin_vos, total_count = self.plugin_model.query(**query)
        return [change_response(vo.to_dict(), repo_info) for vo in plugin_vos], total_count

    def get_plugin_versions(self, repo_info: dict, plugin_id: str, domain_id: str) -> list:
        plugin_vo = self.plugin_model.get(plugin_id=plugin_id, domain_id=domain_id)
        connector = self.locator.get_connector(OCIRegistryConnector)
        return connector.get_tags(plugin_vo.registry_type, plugin_vo.image)


class ManagedPluginManager(BaseManager):
    """Managed plugins come from YAML shipped in the real image; the stand-in has none."""

    def get_plugin(self, repo_info: dict, plugin_id: str, domain_id: str) -> dict:
        raise ERROR_NO_PLUGIN(plugin_id=plugin_id)

    def get_plugin_versions(self, repo_info: dict, plugin_id: str, domain_id: str) -> list:
        raise ERROR_NO_PLUGIN(plugin_id=plugin_id)

    def list_plugins(self, repo_info: dict, query: dict, params: dict):
        return [], 0
