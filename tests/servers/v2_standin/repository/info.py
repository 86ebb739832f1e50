import functools

from google.protobuf.empty_pb2 import Empty
from spaceone.api.repository.v1 import plugin_pb2, repository_pb2
from spaceone.core import utils
from spaceone.core.pygrpc.message_type import change_list_value_type, change_struct_type

__all__ = ["PluginInfo", "PluginsInfo", "VersionsInfo", "RepositoryInfo", "RepositoriesInfo", "EmptyInfo"]


def RepositoryInfo(repo_info: dict, minimal=False):
    info = {
        "repository_id": repo_info.get("repository_id"),
        "name": repo_info.get("name"),
        "repository_type": repo_info.get("repository_type"),
    }
    if not minimal and repo_info.get("endpoint"):
        info["endpoint"] = repo_info["endpoint"]
    return repository_pb2.RepositoryInfo(**info)


def RepositoriesInfo(repos_info: list, minimal=False):
    return repository_pb2.RepositoriesInfo(
        results=[RepositoryInfo(r, minimal) for r in repos_info], total_count=len(repos_info)
    )


def PluginInfo(plugin: dict, minimal=False):
    info = {
        "plugin_id": plugin.get("plugin_id"),
        "name": plugin.get("name"),
        "state": plugin.get("state"),
        "image": plugin.get("image"),
        "resource_type": plugin.get("resource_type"),
        "registry_type": plugin.get("registry_type"),
        "provider": plugin.get("provider"),
    }
    if not minimal:
        info.update({
            "registry_url": plugin.get("registry_url"),
            "registry_config": change_struct_type(plugin.get("registry_config") or {}),
            "capability": change_struct_type(plugin.get("capability") or {}),
            "labels": change_list_value_type(plugin.get("labels") or []),
            "tags": change_struct_type(plugin.get("tags") or {}),
            "docs": change_struct_type(plugin.get("docs") or {}),
            "domain_id": plugin.get("domain_id"),
            "created_at": utils.datetime_to_iso8601(plugin.get("created_at")),
            "updated_at": utils.datetime_to_iso8601(plugin.get("updated_at")),
        })
        if repo := plugin.get("repository_info"):
            info["repository_info"] = RepositoryInfo(repo, minimal=True)
    return plugin_pb2.PluginInfo(**{k: v for k, v in info.items() if v is not None})


def PluginsInfo(plugins: list, total_count: int, **kwargs):
    return plugin_pb2.PluginsInfo(
        results=list(map(functools.partial(PluginInfo, **kwargs), plugins)), total_count=total_count
    )


def VersionsInfo(versions: list):
    return plugin_pb2.VersionsInfo(results=versions, total_count=len(versions))


def EmptyInfo():
    return Empty()
