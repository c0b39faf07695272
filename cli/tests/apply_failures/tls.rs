//! TLS servers for the failure tests, on 127.0.0.1: one that completes the handshake and then
//! never answers (a hung API server or load balancer), and a real validating admission webhook
//! that refuses every review it is sent. Certificates come from the `openssl` command, which
//! `scripts/control-plane.sh` needs anyway: a throwaway CA and a server certificate for
//! 127.0.0.1 signed by it (the API server verifies webhooks against `caBundle`).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ServerConfig, crypto};

/// The CA's certificate (PEM) and an acceptor presenting the server certificate.
pub struct Certs {
    pub ca_pem: String,
    acceptor: TlsAcceptor,
}

/// Makes a CA and a server certificate for 127.0.0.1 in `dir`.
pub fn certs(dir: &Path) -> Certs {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl (scripts/control-plane.sh needs it too)");
        assert!(
            out.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "1",
                "-subj",
                "/CN=kiln-test-ca",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .expect("write server.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    let cert = CertificateDer::from_pem_file(dir.join("server.crt")).expect("server.crt");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let config = ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    Certs {
        ca_pem: std::fs::read_to_string(dir.join("ca.crt")).expect("ca.crt"),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}

/// Binds a free port on 127.0.0.1; returns the listener and its `https://` URL.
async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();
    (listener, format!("https://127.0.0.1:{port}"))
}

/// A server that accepts connections and TLS handshakes, then never sends a byte. Returns
/// its URL; it runs until the test's runtime ends.
pub async fn mute_server(certs: &Certs) -> String {
    let (listener, url) = listen().await;
    let acceptor = certs.acceptor.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(tls) = acceptor.accept(tcp).await {
                held.push(tls);
            }
        }
    });
    url
}

/// A validating admission webhook refusing every AdmissionReview it receives with `message`
/// (scope it with selectors in its configuration). Returns its URL.
pub async fn refusing_webhook(certs: &Certs, message: &str) -> String {
    let (listener, url) = listen().await;
    let acceptor = certs.acceptor.clone();
    let message = message.to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let message = message.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    // The API server keeps connections alive: answer request after request.
                    while let Some(review) = read_request(&mut tls).await {
                        let body = json!({
                            "apiVersion": "admission.k8s.io/v1",
                            "kind": "AdmissionReview",
                            "response": {
                                "uid": review["request"]["uid"],
                                "allowed": false,
                                "status": {"code": 403, "message": message},
                            },
                        })
                        .to_string();
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if tls.write_all(response.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    url
}

/// Reads one HTTP/1.1 request (the API server sends a Content-Length) and parses its JSON
/// body; `None` when the connection ends.
async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> Option<Value> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    serde_json::from_slice(&buf[head_end..head_end + length]).ok()
}
