//! Writes a test PKI (see `warren_tests::tls::Pki`) into the directory
//! given, for the interop suites' TLS cases.

fn main() {
    let dir = std::env::args().nth(1).expect("usage: test-pki DIR");
    warren_tests::tls::Pki::write(std::path::Path::new(&dir));
}
