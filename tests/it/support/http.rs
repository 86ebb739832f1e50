//! A one-shot HTTP(S) GET for fixture probes and assertions about a server's answers
//! (status, `WWW-Authenticate`), using reqwest on a throw-away current-thread runtime.
//! Proxies from the environment are ignored: fixtures live on loopback.

use std::fs;
use std::path::Path;
use std::time::Duration;

/// What the server answered.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names are lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GETs `url`, trusting only `ca_cert` when given (else the system roots), with optional
/// basic credentials. `Err` carries the transport error (refused, TLS failure, timeout).
pub fn http_get(
    url: &str,
    ca_cert: Option<&Path>,
    basic: Option<(&str, &str)>,
) -> Result<HttpResponse, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(get(url, ca_cert, basic))
        .map_err(|e| format!("GET {url}: {e:#}"))
}

async fn get(
    url: &str,
    ca_cert: Option<&Path>,
    basic: Option<(&str, &str)>,
) -> Result<HttpResponse, reqwest::Error> {
    let mut client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10));
    if let Some(ca) = ca_cert {
        let pem = fs::read(ca).unwrap_or_else(|e| panic!("reading {}: {e}", ca.display()));
        let cert = reqwest::Certificate::from_pem(&pem).expect("CA certificate is PEM");
        client = client
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert);
    }
    let mut request = client.build()?.get(url);
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response.bytes().await?.to_vec();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}
