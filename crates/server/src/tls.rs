//! TLS for AMQPS and the HTTP listeners, on rustls (ring provider; TLS 1.2
//! and 1.3 with rustls' default AEAD-only suites). Certificates are read
//! from PEM files and re-read on SIGHUP or a management call: each new
//! session takes the configuration current at its accept, so open
//! sessions keep theirs and a rotation needs no restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use warren_broker::connections::TlsInfo;

/// Where a listener's certificate comes from, and how it treats clients'
/// (rabbitmq.conf's `ssl_options.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain, leaf first (`certfile`).
    pub cert: PathBuf,
    /// Its private key: PKCS#8, PKCS#1 or SEC1 PEM (`keyfile`).
    pub key: PathBuf,
    /// CA certificates client certificates are checked against (`cacertfile`).
    pub ca: Option<PathBuf>,
    /// Ask clients for a certificate and check it (`verify = verify_peer`).
    pub verify_peer: bool,
    /// Refuse clients that send none (`fail_if_no_peer_cert = true`).
    pub fail_if_no_peer_cert: bool,
}

/// Which part of a client certificate names the user of SASL EXTERNAL
/// (rabbitmq_auth_mechanism_ssl's `ssl_cert_login_from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertLoginFrom {
    /// The whole subject, as an RFC 4514 string (`CN=app,O=Acme`).
    #[default]
    DistinguishedName,
    /// The subject's common name only.
    CommonName,
}

impl CertLoginFrom {
    pub fn parse(s: &str) -> Option<CertLoginFrom> {
        match s {
            "distinguished_name" => Some(CertLoginFrom::DistinguishedName),
            "common_name" => Some(CertLoginFrom::CommonName),
            _ => None,
        }
    }
}

/// A listener's TLS configuration, swapped whole by [`Tls::reload`].
pub struct Tls {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Reads the certificate, key and CA files; an error names the file.
    pub fn load(settings: TlsSettings) -> anyhow::Result<Arc<Tls>> {
        let config = server_config(&settings)?;
        Ok(Arc::new(Tls {
            settings,
            current: RwLock::new(config),
        }))
    }

    /// Re-reads the files. On an error the configuration in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let config = server_config(&self.settings)?;
        *self.current.write() = config;
        Ok(())
    }

    /// Reads the files and checks they make a configuration, changing nothing.
    pub fn check(settings: &TlsSettings) -> anyhow::Result<()> {
        server_config(settings).map(drop)
    }

    /// The acceptor for a new session.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.read().clone())
    }

    /// Clients here present verified certificates (EXTERNAL may be offered).
    pub fn verifies_peers(&self) -> bool {
        self.settings.verify_peer
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }
}

fn server_config(s: &TlsSettings) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&s.cert)?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", s.cert.display());
    }
    let key = private_key(&s.key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = if s.verify_peer {
        let Some(ca) = &s.ca else {
            anyhow::bail!(
                "tls_verify_peer needs tls_ca: the CA certificates client certificates are checked against"
            );
        };
        let mut roots = RootCertStore::empty();
        for cert in certificates(ca)? {
            roots
                .add(cert)
                .map_err(|e| anyhow::anyhow!("bad CA certificate in {}: {e}", ca.display()))?;
        }
        if roots.is_empty() {
            anyhow::bail!("no CA certificate in {}", ca.display());
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if s.fail_if_no_peer_cert {
            verifier
        } else {
            verifier.allow_unauthenticated()
        };
        builder.with_client_cert_verifier(verifier.build()?)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        anyhow::anyhow!(
            "{} and {} do not make a certificate: {e}",
            s.cert.display(),
            s.key.display()
        )
    })?;
    // AMQP has no ALPN name; HTTP/1.1 for the HTTP listeners is implied.
    config.alpn_protocols.clear();
    // No TLS 1.3 session tickets, as RabbitMQ (Erlang ssl's default): AMQP
    // clients keep long connections and do not resume sessions, so tickets
    // would be bytes on the wire and cache entries per connection for nothing.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(path)?;
    rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("bad PEM in {}: {e}", path.display()))
}

fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read(path)?;
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| anyhow::anyhow!("bad PEM in {}: {e}", path.display()))?
        .ok_or_else(|| anyhow::anyhow!("no private key in {}", path.display()))
}

/// What management shows of a session, in Erlang ssl's names as RabbitMQ
/// reports them, and the client's certificate (parsed once, for both the
/// management fields and a certificate login).
pub fn session_info(conn: &ServerConnection) -> (TlsInfo, Option<Certificate>) {
    use rustls::CipherSuite as S;
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "tlsv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "tlsv1.2",
        _ => "unknown",
    };
    let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
    let cipher = match suite {
        Some(S::TLS13_AES_128_GCM_SHA256)
        | Some(S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        | Some(S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) => "aes_128_gcm",
        Some(S::TLS13_AES_256_GCM_SHA384)
        | Some(S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
        | Some(S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) => "aes_256_gcm",
        Some(S::TLS13_CHACHA20_POLY1305_SHA256)
        | Some(S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
        | Some(S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256) => "chacha20_poly1305",
        _ => "unknown",
    };
    let key_exchange = match suite {
        // TLS 1.3 suites do not fix the key exchange; Erlang says `any`.
        Some(S::TLS13_AES_128_GCM_SHA256)
        | Some(S::TLS13_AES_256_GCM_SHA384)
        | Some(S::TLS13_CHACHA20_POLY1305_SHA256) => "any",
        Some(S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        | Some(S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
        | Some(S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256) => "ecdhe_ecdsa",
        Some(_) => "ecdhe_rsa",
        None => "unknown",
    };
    let peer = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| Certificate::parse(c));
    let info = TlsInfo {
        protocol: protocol.into(),
        cipher: cipher.into(),
        key_exchange: key_exchange.into(),
        // Every suite offered is an AEAD: no separate MAC.
        hash: "aead".into(),
        peer_cert_subject: peer.as_ref().map(|c| c.subject.clone()),
        peer_cert_issuer: peer.as_ref().map(|c| c.issuer.clone()),
        peer_cert_validity: peer.as_ref().map(|c| c.validity.clone()),
    };
    (info, peer)
}

/// The parts of a client certificate Warren reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// RFC 4514: the most specific part first (`CN=app,O=Acme,C=DE`).
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    /// `2026-01-01T00:00:00Z - 2027-01-01T00:00:00Z`, as RabbitMQ shows it.
    pub validity: String,
}

impl Certificate {
    pub fn parse(der: &CertificateDer<'_>) -> Option<Certificate> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(String::from);
        let time = |t: x509_parser::time::ASN1Time| {
            let t = t.to_datetime();
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        };
        let validity = cert.validity();
        Some(Certificate {
            subject: rfc4514(cert.subject()),
            issuer: rfc4514(cert.issuer()),
            common_name,
            validity: format!("{} - {}", time(validity.not_before), time(validity.not_after)),
        })
    }

    /// The user name SASL EXTERNAL logs in as.
    pub fn login(&self, from: CertLoginFrom) -> Option<String> {
        match from {
            CertLoginFrom::DistinguishedName => Some(self.subject.clone()),
            CertLoginFrom::CommonName => self.common_name.clone(),
        }
    }
}

/// A name as RFC 4514 writes it: relative names last-to-first, `,` between
/// them, `+` inside one, with the usual short attribute names and the
/// special characters escaped.
fn rfc4514(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type();
                    let key = match x509_parser::objects::oid2abbrev(oid, registry) {
                        Ok(abbrev) => abbrev.to_string(),
                        Err(_) => oid.to_id_string(),
                    };
                    let value = match atv.as_str() {
                        Ok(v) => escape(v),
                        Err(_) => format!("#{}", hex(atv.attr_value().data)),
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let edge = (i == 0 && (c == ' ' || c == '#')) || (i + 1 == v.chars().count() && c == ' ');
        if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_read_most_specific_first_with_escapes() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Acme, Inc");
        dn.push(rcgen::DnType::CommonName, "app");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let parsed = Certificate::parse(cert.der()).unwrap();
        assert_eq!(parsed.subject, "CN=app,O=Acme\\, Inc,C=DE");
        assert_eq!(parsed.issuer, parsed.subject);
        assert_eq!(parsed.login(CertLoginFrom::CommonName).as_deref(), Some("app"));
        assert_eq!(
            parsed.login(CertLoginFrom::DistinguishedName).as_deref(),
            Some("CN=app,O=Acme\\, Inc,C=DE")
        );
        assert!(parsed.validity.contains(" - "), "{}", parsed.validity);
    }
}
