"""The collector service SpaceONE's inventory calls: init, verify, collect."""


class CollectorService:
    def init(self, params):
        return {"metadata": {"supported_resource_type": ["inventory.CloudService"]}}

    def verify(self, params):
        return {}

    def collect(self, params):
        yield {"state": "SUCCESS", "resource_type": "inventory.CloudService", "resource": {}}
