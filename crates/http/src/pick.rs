//! Serializing only some fields of a struct into JSON: a listing with
//! `columns=name,messages` or `sort=messages` over 10,000 queues should not
//! build every field of every queue as a `serde_json::Value` (that was most
//! of its time). [`pick`] builds only the named top-level fields.

use serde::ser::{Impossible, Serialize, SerializeStruct, Serializer};
use serde_json::{Error, Map, Value};

/// `value` as a JSON object holding only its top-level fields named in
/// `keys` (every field when `keys` is `None`). For structs; anything else
/// becomes `null`.
pub fn pick<T: Serialize>(value: &T, keys: Option<&[&str]>) -> Value {
    match keys {
        None => serde_json::to_value(value),
        Some(keys) => value.serialize(Pick { keys }),
    }
    .unwrap_or(Value::Null)
}

struct Pick<'a> {
    keys: &'a [&'a str],
}

struct Picked<'a> {
    keys: &'a [&'a str],
    map: Map<String, Value>,
}

fn not_a_struct() -> Error {
    serde::ser::Error::custom("only structs are picked from")
}

impl SerializeStruct for Picked<'_> {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        if self.keys.contains(&key) {
            self.map.insert(key.to_string(), serde_json::to_value(value)?);
        }
        Ok(())
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::Object(self.map))
    }
}

/// Everything but a struct is refused.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret, Error> {
            Err(not_a_struct())
        })*
    };
}

impl<'a> Serializer for Pick<'a> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Impossible<Value, Error>;
    type SerializeTuple = Impossible<Value, Error>;
    type SerializeTupleStruct = Impossible<Value, Error>;
    type SerializeTupleVariant = Impossible<Value, Error>;
    type SerializeMap = Impossible<Value, Error>;
    type SerializeStruct = Picked<'a>;
    type SerializeStructVariant = Impossible<Value, Error>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Picked<'a>, Error> {
        Ok(Picked {
            keys: self.keys,
            map: Map::new(),
        })
    }

    refuse! {
        serialize_bool(bool) -> Value;
        serialize_i8(i8) -> Value;
        serialize_i16(i16) -> Value;
        serialize_i32(i32) -> Value;
        serialize_i64(i64) -> Value;
        serialize_u8(u8) -> Value;
        serialize_u16(u16) -> Value;
        serialize_u32(u32) -> Value;
        serialize_u64(u64) -> Value;
        serialize_f32(f32) -> Value;
        serialize_f64(f64) -> Value;
        serialize_char(char) -> Value;
        serialize_str(&str) -> Value;
        serialize_bytes(&[u8]) -> Value;
        serialize_none() -> Value;
        serialize_unit() -> Value;
        serialize_unit_struct(&'static str) -> Value;
        serialize_unit_variant(&'static str, u32, &'static str) -> Value;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<Value, Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<Value, Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Value, Error> {
        Err(not_a_struct())
    }
}

#[cfg(test)]
mod tests {
    use super::pick;
    use serde_json::json;

    #[derive(serde::Serialize)]
    struct Q {
        name: &'static str,
        messages: u32,
        stats: Vec<u32>,
    }

    #[test]
    fn only_the_named_fields_are_built() {
        let q = Q {
            name: "q",
            messages: 3,
            stats: vec![1, 2],
        };
        assert_eq!(
            pick(&q, Some(&["messages", "name"])),
            json!({"name": "q", "messages": 3})
        );
        assert_eq!(
            pick(&q, None),
            json!({"name": "q", "messages": 3, "stats": [1, 2]})
        );
        assert_eq!(pick(&3, Some(&["x"])), serde_json::Value::Null);
    }
}
