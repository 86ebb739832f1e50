//! Telling the server generation apart through gRPC reflection (v1alpha).
//!
//! Both generations serve `spaceone.api.repository.v1.Plugin` under the same paths, so the
//! service name says nothing; its messages do. One reflection stream asks two questions:
//!
//! 1. `list_services`: is `spaceone.api.repository.v1.Plugin` there at all? If not, the
//!    endpoint is some other SpaceONE service (identity, inventory, …) and we say so,
//!    listing what it does serve.
//! 2. `file_containing_symbol("spaceone.api.repository.v1.Plugin")`: the serialized
//!    `FileDescriptorProto` of `plugin.proto`. The input type of its `register` method is
//!    `CreatePluginRequest` on 1.x and `RegisterPluginRequest` on 2.x.
//!
//! SpaceONE servers (python-core, both generations) answer only v1alpha; v1 gives
//! UNIMPLEMENTED, so v1alpha is what we speak. Reflection needs no token, and none is
//! sent. An explicit generation in the options skips all of this.

use prost::Message;
use prost_types::FileDescriptorProto;

use super::api::reflection::server_reflection_client::ServerReflectionClient;
use super::api::reflection::server_reflection_request::MessageRequest;
use super::api::reflection::server_reflection_response::MessageResponse;
use super::api::reflection::ServerReflectionRequest;
use super::connection::Connection;
use super::error::SpaceOneError;
use super::request::Generation;

pub const PLUGIN_SERVICE: &str = "spaceone.api.repository.v1.Plugin";
const PACKAGE: &str = "spaceone.api.repository.v1";
const METHOD: &str = "ServerReflection.ServerReflectionInfo";

/// Asks the server which generation it is (never returns `Auto`).
pub async fn detect(conn: &Connection) -> Result<Generation, SpaceOneError> {
    let endpoint = conn.endpoint().to_string();
    let detect_error = |reason: String| SpaceOneError::Detect {
        endpoint: endpoint.clone(),
        reason,
    };
    let ask = |request| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let questions = vec![
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(
            PLUGIN_SERVICE.to_string(),
        )),
    ];

    let mut client = ServerReflectionClient::new(conn.channel());
    let mut answers = match client
        .server_reflection_info(conn.anonymous(tokio_stream::iter(questions)))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            return Err(detect_error(
                "it does not answer gRPC reflection (grpc.reflection.v1alpha)".into(),
            ))
        }
        Err(status) => return Err(SpaceOneError::server(METHOD, &status)),
    };
    let mut answer = async || match answers.message().await {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Err(SpaceOneError::Detect {
            endpoint: endpoint.clone(),
            reason: "the reflection stream ended early".into(),
        }),
        Err(status) => Err(SpaceOneError::server(METHOD, &status)),
    };

    let services = match answer().await?.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
        }
        other => {
            return Err(detect_error(format!(
                "list_services answered {}",
                describe(other)
            )))
        }
    };
    if !services.iter().any(|s| s == PLUGIN_SERVICE) {
        return Err(detect_error(format!(
            "it does not serve {PLUGIN_SERVICE}, so it is not a repository service (it serves: {})",
            if services.is_empty() {
                "nothing".to_string()
            } else {
                services.join(", ")
            }
        )));
    }

    let files = match answer().await?.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files
            .file_descriptor_proto
            .iter()
            .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| detect_error(format!("a file descriptor does not decode: {e}")))?,
        other => {
            return Err(detect_error(format!(
                "file_containing_symbol answered {}",
                describe(other)
            )))
        }
    };
    generation_of(&files).map_err(detect_error)
}

/// The generation a set of file descriptors describes, from `Plugin.register`'s input.
pub fn generation_of(files: &[FileDescriptorProto]) -> Result<Generation, String> {
    let register = files
        .iter()
        .filter(|f| f.package() == PACKAGE)
        .flat_map(|f| &f.service)
        .filter(|s| s.name() == "Plugin")
        .flat_map(|s| &s.method)
        .find(|m| m.name() == "register")
        .ok_or_else(|| format!("the descriptor of {PLUGIN_SERVICE} has no `register` method"))?;
    let input = register.input_type().trim_start_matches('.');
    match input.strip_prefix(PACKAGE).and_then(|rest| rest.strip_prefix('.')) {
        Some("CreatePluginRequest") => Ok(Generation::V1),
        Some("RegisterPluginRequest") => Ok(Generation::V2),
        _ => Err(format!(
            "Plugin.register takes `{input}`, neither 1.x's CreatePluginRequest nor 2.x's RegisterPluginRequest"
        )),
    }
}

fn describe(response: Option<MessageResponse>) -> String {
    match response {
        Some(MessageResponse::ErrorResponse(e)) => {
            format!("error {}: {}", e.error_code, e.error_message)
        }
        Some(MessageResponse::FileDescriptorResponse(_)) => "with file descriptors".into(),
        Some(MessageResponse::ListServicesResponse(_)) => "with a service list".into(),
        Some(MessageResponse::AllExtensionNumbersResponse(_)) => "with extension numbers".into(),
        None => "nothing".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{MethodDescriptorProto, ServiceDescriptorProto};

    fn plugin_file(package: &str, input: &str) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some("spaceone/api/repository/v1/plugin.proto".into()),
            package: Some(package.into()),
            service: vec![ServiceDescriptorProto {
                name: Some("Plugin".into()),
                method: vec![
                    MethodDescriptorProto {
                        name: Some("get".into()),
                        input_type: Some(format!(".{package}.GetRepositoryPluginRequest")),
                        ..Default::default()
                    },
                    MethodDescriptorProto {
                        name: Some("register".into()),
                        input_type: Some(format!(".{package}.{input}")),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_register_input_type_names_the_generation() {
        let dependency = FileDescriptorProto {
            package: Some("google.protobuf".into()),
            ..Default::default()
        };
        let v1 = [
            dependency.clone(),
            plugin_file(PACKAGE, "CreatePluginRequest"),
        ];
        assert_eq!(generation_of(&v1), Ok(Generation::V1));
        assert_eq!(
            generation_of(&[plugin_file(PACKAGE, "RegisterPluginRequest")]),
            Ok(Generation::V2)
        );
        let e = generation_of(&[plugin_file(PACKAGE, "AddPluginRequest")]).unwrap_err();
        assert!(
            e.contains("`spaceone.api.repository.v1.AddPluginRequest`"),
            "{e}"
        );
        assert!(generation_of(&[plugin_file("other.v1", "CreatePluginRequest")]).is_err());
        assert!(generation_of(&[dependency])
            .unwrap_err()
            .contains("no `register` method"));
    }
}
