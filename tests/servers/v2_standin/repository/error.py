# Error classes of the 2.x repository service (same codes and texts as upstream
# repository/error/plugin.py and repository.py), on top of spaceone-core's classes.
from spaceone.core.error import *  # noqa: F401,F403
from spaceone.core.error import ERROR_INVALID_ARGUMENT, ERROR_UNKNOWN


class ERROR_NO_PLUGIN(ERROR_INVALID_ARGUMENT):
    _message = "Plugin does not exists. (plugin_id = {plugin_id})"


class ERROR_INVALID_IMAGE_FORMAT(ERROR_INVALID_ARGUMENT):
    _message = "Image format is <repository name>/<image name> in {name}"


class ERROR_INVALID_IMAGE_NAME_FORMAT(ERROR_INVALID_ARGUMENT):
    _message = "Image name format is [a-zA-Z0-9\\-]+ in {name}"


class ERROR_INVALID_IMAGE_LENGTH(ERROR_INVALID_ARGUMENT):
    _message = "The length of image should be less than equal {length} in {name}"


class ERROR_NO_IMAGE_IN_REGISTRY(ERROR_UNKNOWN):
    _message = "Image does not found. (registry_type = {registry_type}, image = {image})"


class ERROR_REGISTRY_SETTINGS(ERROR_UNKNOWN):
    _message = "Registry settings are not ready. (registry_type = {registry_type})"


class ERROR_NOT_FOUND_REPOSITORY(ERROR_INVALID_ARGUMENT):
    _message = "Repository does not exists. (repository_id = {repository_id})"


class ERROR_ONLY_ONE_LOCAL_REPOSITORY_CAN_BE_REGISTERED(ERROR_INVALID_ARGUMENT):
    _message = "Only one local repository can be registered. (local_repository_count = {local_repository_count})"


# Stand-in only (SPACEONE_V2_STRICT=1): the request carried field numbers the 2.x
# message does not define.
class ERROR_STUB_UNKNOWN_FIELDS(ERROR_INVALID_ARGUMENT):
    _message = (
        "[stand-in strict mode] Request has fields unknown to {message_type}. "
        "(field_numbers = {field_numbers})"
    )
