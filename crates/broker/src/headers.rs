//! Headers routing: a binding's arguments compiled once into a matcher.

use amq_protocol::types::{AMQPValue, FieldTable};

#[derive(Debug, Clone, PartialEq)]
pub struct HeadersMatcher {
    any: bool,
    pairs: Vec<(String, AMQPValue)>,
}

impl HeadersMatcher {
    /// Compiles binding arguments. `x-match` is `all` (default), `any`,
    /// `all-with-x` or `any-with-x`; without `-with-x`, other `x-` keys are
    /// ignored. Returns an error text for an invalid `x-match`.
    pub fn compile(args: &FieldTable) -> Result<HeadersMatcher, String> {
        let mode = match args.inner().get("x-match") {
            None => "all".to_string(),
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            Some(AMQPValue::ShortString(s)) => s.as_str().to_string(),
            Some(other) => return Err(format!("Invalid x-match field type {other:?}; expected longstr")),
        };
        let (any, with_x) = match mode.as_str() {
            "all" => (false, false),
            "any" => (true, false),
            "all-with-x" => (false, true),
            "any-with-x" => (true, true),
            other => {
                return Err(format!(
                "Invalid x-match field value <<\"{other}\">>; expected all, any, all-with-x, or any-with-x"
            ))
            }
        };
        let pairs = args
            .inner()
            .iter()
            .filter(|(k, _)| k.as_str() != "x-match" && (with_x || !k.as_str().starts_with("x-")))
            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
            .collect();
        Ok(HeadersMatcher { any, pairs })
    }

    /// A binding value of type void only asks for the header to be present.
    pub fn matches(&self, headers: Option<&FieldTable>) -> bool {
        let empty = FieldTable::default();
        let headers = headers.unwrap_or(&empty).inner();
        let hit = |(k, v): &(String, AMQPValue)| match headers.get(k.as_str()) {
            None => false,
            Some(_) if matches!(v, AMQPValue::Void) => true,
            Some(h) => h == v,
        };
        if self.any {
            self.pairs.iter().any(hit)
        } else {
            self.pairs.iter().all(hit)
        }
    }
}
