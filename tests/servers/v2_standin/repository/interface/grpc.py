"""gRPC app of the stand-in: spaceone-core 2.0.144 GRPCServer + BaseAPI servicers on the
official spaceone-api 2.0.435 stubs (same shape as upstream interface/grpc/*.py)."""

from spaceone.api.repository.v1 import plugin_pb2, plugin_pb2_grpc, repository_pb2, repository_pb2_grpc
from spaceone.core.pygrpc import BaseAPI
from spaceone.core.pygrpc.server import GRPCServer

__all__ = ["app"]


class Plugin(BaseAPI, plugin_pb2_grpc.PluginServicer):
    pb2 = plugin_pb2
    pb2_grpc = plugin_pb2_grpc

    def register(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            return self.locator.get_info("PluginInfo", plugin_svc.register(params))

    def update(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            return self.locator.get_info("PluginInfo", plugin_svc.update(params))

    def deregister(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            plugin_svc.deregister(params)
            return self.locator.get_info("EmptyInfo")

    def enable(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            return self.locator.get_info("PluginInfo", plugin_svc.enable(params))

    def disable(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            return self.locator.get_info("PluginInfo", plugin_svc.disable(params))

    def get_versions(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            return self.locator.get_info("VersionsInfo", plugin_svc.get_versions(params))

    def get(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            return self.locator.get_info("PluginInfo", plugin_svc.get(params))

    def list(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("PluginService", metadata) as plugin_svc:
            plugins, total_count = plugin_svc.list(params)
            return self.locator.get_info("PluginsInfo", plugins, total_count, minimal=self.get_minimal(params))


class Repository(BaseAPI, repository_pb2_grpc.RepositoryServicer):
    pb2 = repository_pb2
    pb2_grpc = repository_pb2_grpc

    def list(self, request, context):
        params, metadata = self.parse_request(request, context)
        with self.locator.get_service("RepositoryService", metadata) as repo_svc:
            return self.locator.get_info("RepositoriesInfo", repo_svc.list(params), minimal=self.get_minimal(params))


app = GRPCServer()
app.add_service(Plugin)
app.add_service(Repository)
