# Built-in defaults of the 2.x stand-in. v2_server.py merges a generated config.yml
# (registry URL, connector base_url, loopback endpoints) over these.

DATABASE_AUTO_CREATE_INDEX = True
DATABASES = {
    "default": {
        "engine": "MongoModel",
        "db": "repository",
        # In-memory: v2_server.py injects mongo_client_class=mongomock.MongoClient.
        "host": "mongodb://127.0.0.1:9",
        "username": "standin",
        "password": "",
    }
}

CACHES = {
    "default": {},
    "local": {
        "backend": "spaceone.core.cache.local_cache.LocalCache",
        "max_size": 128,
        "ttl": 300,
    },
}

HANDLERS = {
    "authentication": [
        {"backend": "v2_standin.repository.handler:StandinAuthenticationHandler"}
    ],
    "authorization": [
        {"backend": "spaceone.core.handler.authorization_handler:SpaceONEAuthorizationHandler"}
    ],
    "mutation": [
        {"backend": "spaceone.core.handler.mutation_handler:SpaceONEMutationHandler"}
    ],
    "event": [],
}

CONNECTORS = {
    # One OCI distribution registry serves every registry_type in the stand-in.
    "OCIRegistryConnector": {
        "base_url": "",
        "token": "",
        "verify": False,
    },
    "SpaceConnector": {
        "backend": "spaceone.core.connector.space_connector:SpaceConnector",
        "endpoints": {
            "identity": "grpc://127.0.0.1:9",
        },
    },
}

# Upstream 2.x layout: REGISTRY_INFO.<TYPE>.url (+ image_pull_secrets).
REGISTRY_INFO = {
    "DOCKER_HUB": {"url": ""},
    "AWS_PRIVATE_ECR": {"url": ""},
    "HARBOR": {"url": ""},
    "GITHUB": {"url": ""},
    "GCP_PRIVATE_GCR": {"url": ""},
}

# Static repositories (2.x has no Repository.register). Config order = search order.
REPOSITORIES = [
    {
        "repository_id": "repo-managed",
        "name": "Cloudforet Official",
        "repository_type": "MANAGED",
    },
    {
        "repository_id": "repo-local",
        "name": "Private",
        "repository_type": "LOCAL",
    },
]

TOKEN = ""
