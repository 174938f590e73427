//! Writes a test PKI (see `warren_tests::tls::Pki`) into the directory
//! given, for the interop suites' TLS cases; a second argument names its
//! CA (two CAs of one name in a trust file confuse OpenSSL's lookup).

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: test-pki DIR [CA-NAME]");
    let ca = args.next().unwrap_or_else(|| "Warren test CA".into());
    warren_tests::tls::Pki::write_with(std::path::Path::new(&dir), &ca);
}
