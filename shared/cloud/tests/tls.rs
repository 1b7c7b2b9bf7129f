//! The HTTP client's TLS: rustls with the ring provider, through reqwest, against a TLS
//! server on loopback.
//!
//! The certificates in `fixtures/tls` are a test CA and a `localhost` certificate it signed
//! (P-256, valid for a hundred years); the key is the test server's and guards nothing.

use std::path::Path;
use std::sync::Arc;

use reimage_cloud::aliyun::http::{Timeouts, http_client, tls_config_trusting};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A TLS server on loopback presenting the `localhost` certificate; it answers every
/// request with `200 ok`. Answers its port.
async fn tls_server() -> u16 {
    let chain = vec![CertificateDer::from_pem_file(fixture("leaf.pem")).expect("leaf.pem")];
    let key = PrivateKeyDer::from_pem_file(fixture("leaf.key")).expect("leaf.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here: the client gave up.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn the_client_speaks_tls_to_a_server_its_roots_vouch_for() {
    let port = tls_server().await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).expect("ca.pem"))
        .expect("the test CA is a usable root");
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config_trusting(roots).expect("TLS config"))
        .no_proxy()
        .build()
        .expect("client");
    let body = client
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .expect("the handshake succeeds")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn the_client_refuses_a_certificate_outside_the_built_in_roots() {
    let port = tls_server().await;
    let client = http_client(Timeouts::default()).expect("client");
    let err = client
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .expect_err("the test CA is not among the Mozilla roots");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    assert!(chain.contains("UnknownIssuer"), "{chain}");
}
