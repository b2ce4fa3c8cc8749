//! Values across the script's edge: a MySQL row as a script map, a script
//! value as a statement parameter, and any script value as JSON.

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Row, Value};
use rhai::{Array, Dynamic, Map as RhaiMap};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Error as _, Serialize, Serializer};
use serde_json::Value as Json;

/// MySQL's character set number for binary data.
const BINARY_CHARSET: u16 = 63;

/// The type of a script map's keys (rhai keeps its name private).
type Key = <RhaiMap as KeyOf>::Key;
trait KeyOf {
    type Key;
}
impl<K, V> KeyOf for std::collections::BTreeMap<K, V> {
    type Key = K;
}

/// Rows as script maps, keyed by column name. The rows of one result share
/// their columns, so each name is converted once, not once a row.
pub fn rows_to_array(rows: Vec<Row>) -> Result<Array, String> {
    let Some(first) = rows.first() else {
        return Ok(Array::new());
    };
    let columns = first.columns();
    let names: Vec<Key> = columns
        .iter()
        .map(|col| col.name_str().as_ref().into())
        .collect();
    // Two columns of one name (`a.id, b.id` of a join) would be one key of
    // the map, the first value lost without a word: refused (one length to
    // compare, not the names).
    let mut out = Array::with_capacity(rows.len());
    if rows.len() == 1 {
        // one row (a get_user, a login): each value inserted by its name
        let mut map = RhaiMap::new();
        for ((name, col), value) in names.iter().zip(columns.iter()).zip(rows_values(rows)) {
            map.insert(name.clone(), to_dynamic(value, col));
        }
        if map.len() < names.len() {
            return Err(same_names(&names));
        }
        out.push(Dynamic::from_map(map));
        return Ok(out);
    }
    let template: RhaiMap = names.iter().map(|n| (n.clone(), Dynamic::UNIT)).collect();
    if template.len() < names.len() {
        return Err(same_names(&names));
    }
    // Each row's map is a copy of the template (one allocation for a row
    // of up to eleven columns) with its values put in place in the map's
    // order of keys: cheaper than inserting each key, which compares names.
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    for row in rows {
        let mut values = row.unwrap();
        let mut map = template.clone();
        for (slot, &column) in map.values_mut().zip(&order) {
            let value = std::mem::replace(&mut values[column], Value::NULL);
            *slot = to_dynamic(value, &columns[column]);
        }
        out.push(Dynamic::from_map(map));
    }
    Ok(out)
}

/// The values of the one row of `rows`.
fn rows_values(rows: Vec<Row>) -> Vec<Value> {
    rows.into_iter().next().map(Row::unwrap).unwrap_or_default()
}

/// What is wrong with columns of which two or more share a name.
fn same_names(names: &[Key]) -> String {
    let (i, name) = names
        .iter()
        .enumerate()
        .find(|(i, name)| names[..*i].contains(name))
        .unwrap_or((0, &names[0]));
    format!(
        "the result has two columns named `{name}` (columns {} and {}): give one a name of its own with AS",
        names.iter().position(|n| n == name).unwrap_or(0) + 1,
        i + 1
    )
}

/// A MySQL value as a script sees it.
pub fn to_dynamic(value: Value, col: &Column) -> Dynamic {
    let ty = col.column_type();
    match value {
        Value::NULL => Dynamic::UNIT,
        Value::Int(i) => i.into(),
        Value::UInt(u) => match i64::try_from(u) {
            Ok(i) => i.into(),
            Err(_) => u.to_string().into(),
        },
        // Through its shortest text, so that FLOAT 0.1 reads as 0.1.
        Value::Float(f) => f.to_string().parse::<f64>().unwrap_or(f as f64).into(),
        Value::Double(d) => d.into(),
        Value::Date(y, mo, d, h, mi, s, us) => {
            if matches!(
                ty,
                ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE
            ) {
                format!("{y:04}-{mo:02}-{d:02}").into()
            } else if us > 0 {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}").into()
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}").into()
            }
        }
        Value::Time(neg, days, h, mi, s, us) => {
            let sign = if neg { "-" } else { "" };
            let hours = days * 24 + u32::from(h);
            if us > 0 {
                format!("{sign}{hours:02}:{mi:02}:{s:02}.{us:06}").into()
            } else {
                format!("{sign}{hours:02}:{mi:02}:{s:02}").into()
            }
        }
        Value::Bytes(bytes) => match ty {
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                String::from_utf8_lossy(&bytes).into_owned().into()
            }
            ColumnType::MYSQL_TYPE_JSON => std::str::from_utf8(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|text| parse_json(text).map_err(|e| e.to_string()))
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned().into()),
            ColumnType::MYSQL_TYPE_BIT | ColumnType::MYSQL_TYPE_GEOMETRY => {
                Dynamic::from_blob(bytes)
            }
            _ if col.character_set() == BINARY_CHARSET
                && !col.flags().contains(ColumnFlags::ENUM_FLAG)
                && !col.flags().contains(ColumnFlags::SET_FLAG) =>
            {
                Dynamic::from_blob(bytes)
            }
            _ => match String::from_utf8(bytes) {
                Ok(s) => s.into(),
                Err(e) => Dynamic::from_blob(e.into_bytes()),
            },
        },
    }
}

/// A script value as a statement parameter: `()` is NULL, a bool 1 or 0, a
/// map or array its JSON text.
pub fn to_param(value: &Dynamic) -> Result<Value, String> {
    if value.is_unit() {
        return Ok(Value::NULL);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Int(i64::from(b)));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::Int(i));
    }
    if let Ok(f) = value.as_float() {
        return Ok(Value::Double(f));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::Bytes(c.to_string().into_bytes()));
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return Ok(Value::Bytes(s.as_bytes().to_vec()));
    }
    if value.is_blob() {
        let blob = value.clone().into_blob().unwrap_or_default();
        return Ok(Value::Bytes(blob));
    }
    if value.is_map() || value.is_array() {
        return Ok(Value::Bytes(json_text(value)?.into_bytes()));
    }
    Err(format!(
        "a {} cannot be a statement parameter",
        value.type_name()
    ))
}

/// Any value as JSON: `()` is null, a blob an array of its bytes. Floats
/// that JSON cannot hold (NaN, infinities) and values with no JSON form
/// (function pointers, timestamps, custom types) are refused.
pub fn to_json(value: &Dynamic) -> Result<Json, String> {
    serde_json::to_value(AsJson(value)).map_err(|e| e.to_string())
}

/// A value's JSON text, by the rules of [`to_json`], written with no
/// `serde_json::Value` between.
pub fn json_text(value: &Dynamic) -> Result<String, String> {
    serde_json::to_string(&AsJson(value)).map_err(|e| e.to_string())
}

/// A script value, serialized by the rules of [`to_json`]: the one place
/// that says which script values have a JSON form and what it is.
pub struct AsJson<'a>(pub &'a Dynamic);

impl Serialize for AsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.is_unit() {
            return s.serialize_unit();
        }
        if let Ok(b) = value.as_bool() {
            return s.serialize_bool(b);
        }
        if let Ok(i) = value.as_int() {
            return s.serialize_i64(i);
        }
        if let Ok(f) = value.as_float() {
            if !f.is_finite() {
                return Err(S::Error::custom(
                    "a float that is not finite has no JSON form",
                ));
            }
            return s.serialize_f64(f);
        }
        if let Ok(c) = value.as_char() {
            return s.serialize_char(c);
        }
        if let Some(text) = value.read_lock::<rhai::ImmutableString>() {
            return s.serialize_str(&text);
        }
        if let Some(blob) = value.read_lock::<rhai::Blob>() {
            return s.collect_seq(blob.iter());
        }
        if let Some(items) = value.read_lock::<rhai::Array>() {
            return s.collect_seq(items.iter().map(AsJson));
        }
        if let Some(map) = value.read_lock::<RhaiMap>() {
            return s.collect_map(map.iter().map(|(k, v)| (k.as_str(), AsJson(v))));
        }
        Err(S::Error::custom(format!(
            "a {} has no JSON form",
            value.type_name()
        )))
    }
}

/// JSON text as script values, built directly: objects are maps, arrays
/// arrays, integers that fit `i64` integers and other numbers floats,
/// `null` is `()`.
pub fn parse_json(text: &str) -> Result<Dynamic, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = ToDynamic.deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// Builds a script value as serde reads it (rhai's own `Deserialize`
/// reads each key into a `String` first, and converts every map it builds
/// once more into a script map).
#[derive(Clone, Copy)]
struct ToDynamic;

impl<'de> DeserializeSeed<'de> for ToDynamic {
    type Value = Dynamic;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Dynamic, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ToDynamic {
    type Value = Dynamic;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Dynamic, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Dynamic, E> {
        Ok(Dynamic::from_int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Dynamic, E> {
        Ok(i64::try_from(v).map_or_else(|_| Dynamic::from_float(v as f64), Dynamic::from_int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Dynamic, E> {
        Ok(Dynamic::from_float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Dynamic, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Dynamic, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Dynamic, E> {
        Ok(Dynamic::UNIT)
    }
    fn visit_none<E>(self) -> Result<Dynamic, E> {
        Ok(Dynamic::UNIT)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dynamic, A::Error> {
        let mut items = Array::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Dynamic::from_array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Dynamic, A::Error> {
        let mut map = RhaiMap::new();
        while let Some(key) = entries.next_key_seed(KeySeed)? {
            map.insert(key, entries.next_value_seed(self)?);
        }
        Ok(Dynamic::from_map(map))
    }
}

/// A map key, made straight from the text (no `String` in between).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(v.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_becomes_the_values_rhai_itself_would_build() {
        for text in [
            r#"{"theme":"dark","k\"ey":-3,"a":[1,2.5,"x",null,true,{"b":18446744073709551615}]}"#,
            r#"[{"z":{}},[],"\u00e9\n",0,-0.0,1e300]"#,
            r#""just a string""#,
            r#"{"a":1,"a":2}"#,
            "null",
            " 7 ",
        ] {
            let ours = parse_json(text).unwrap();
            let rhai: Dynamic = serde_json::from_str(text).unwrap();
            assert_eq!(ours.type_name(), rhai.type_name(), "{text}");
            assert_eq!(to_json(&ours), to_json(&rhai), "{text}");
        }
        let big = parse_json("18446744073709551615").unwrap();
        assert!(big.is_float());
        for bad in ["{", "[1,]", "1 2", "", "{\"a\" 1}"] {
            assert!(parse_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_serialize_as_to_json_says() {
        let mut map = RhaiMap::new();
        map.insert("b".into(), Dynamic::from_blob(vec![1, 255]));
        map.insert("c".into(), 'x'.into());
        map.insert("f".into(), 0.1_f64.into());
        map.insert("u".into(), Dynamic::UNIT);
        let value = Dynamic::from_map(map);
        assert_eq!(
            json_text(&value).unwrap(),
            r#"{"b":[1,255],"c":"x","f":0.1,"u":null}"#
        );
        for bad in [f64::NAN, f64::INFINITY] {
            let e = json_text(&Dynamic::from_array(vec![bad.into()])).unwrap_err();
            assert_eq!(e, "a float that is not finite has no JSON form");
        }
        let e = to_json(&Dynamic::from(rhai::FnPtr::new("f").unwrap())).unwrap_err();
        assert_eq!(e, "a Fn has no JSON form");
    }
}
