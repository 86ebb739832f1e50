from mongoengine import DateTimeField, DictField, ListField, StringField

from spaceone.core.model.mongo_model import MongoModel

__all__ = ["Plugin"]


class Plugin(MongoModel):
    plugin_id = StringField(max_length=40, unique_with="domain_id")
    name = StringField(max_length=255)
    state = StringField(max_length=20, default="ENABLED", choices=("ENABLED", "DISABLED"))
    image = StringField(max_length=255)
    registry_type = StringField(max_length=40, default="DOCKER_HUB")
    registry_config = DictField()
    resource_type = StringField(max_length=255)
    provider = StringField(max_length=255, default=None, null=True)
    capability = DictField()
    labels = ListField()
    tags = DictField()
    docs = DictField()
    repository_id = StringField(max_length=40)
    domain_id = StringField(max_length=40)
    created_at = DateTimeField(auto_now_add=True)
    updated_at = DateTimeField(auto_now=True)

    meta = {
        "updatable_fields": [
            "name",
            "state",
            "capability",
            "labels",
            "tags",
            "docs",
            "updated_at",
        ],
        "minimal_fields": [
            "plugin_id",
            "name",
            "state",
            "image",
            "resource_type",
            "provider",
            "registry_type",
        ],
        "ordering": ["name"],
        "indexes": [
            "plugin_id",
            "state",
            "resource_type",
            "provider",
            "registry_type",
            "repository_id",
            "domain_id",
        ],
    }
