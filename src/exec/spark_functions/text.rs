//! Spark's text functions: `split`, `regexp_extract`, `regexp_extract_all`, `regexp_substr`,
//! `get_json_object`, `json_array_length`, `json_object_keys`.

use std::cell::RefCell;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use regex::Regex;

use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// `split(str, regex [, limit])`: the pieces between matches; a positive limit caps the
    /// number of pieces (the last keeps the rest), otherwise trailing empty pieces are kept.
    Split,
    /// `regexp_extract(str, regex [, group])`: the group (1 by default, 0 for the whole
    /// match) of the first match; the empty string when nothing matches.
    RegexpExtract,
    /// `regexp_extract_all(str, regex [, group])`: the group (1 by default) of every match.
    RegexpExtractAll,
    /// `regexp_substr(str, regex)`: the first match; NULL when nothing matches.
    RegexpSubstr,
    /// `get_json_object(json, path)`: the value at a JSONPath (`$.a.b[0]`, `$['a']`,
    /// `[*]`), strings without their quotes, objects and arrays as JSON; NULL for invalid
    /// JSON or a path that leads nowhere.
    GetJsonObject,
    /// `json_array_length(json)`: the number of elements of a JSON array; NULL for anything
    /// else.
    JsonArrayLength,
    /// `json_object_keys(json)`: the keys of a JSON object, in order; NULL for anything else.
    JsonObjectKeys,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkText {
    kind: TextKind,
    signature: Signature,
}

impl SparkText {
    pub fn new(kind: TextKind) -> Self {
        let text = || DataType::Utf8;
        let signature = match kind {
            TextKind::Split | TextKind::RegexpExtract | TextKind::RegexpExtractAll => {
                Signature::one_of(
                    vec![
                        TypeSignature::Exact(vec![text(), text()]),
                        TypeSignature::Exact(vec![text(), text(), DataType::Int64]),
                    ],
                    Volatility::Immutable,
                )
            }
            TextKind::GetJsonObject | TextKind::RegexpSubstr => {
                Signature::exact(vec![text(), text()], Volatility::Immutable)
            }
            TextKind::JsonArrayLength | TextKind::JsonObjectKeys => {
                Signature::exact(vec![text()], Volatility::Immutable)
            }
        };
        Self { kind, signature }
    }
}

impl ScalarUDFImpl for SparkText {
    fn name(&self) -> &str {
        match self.kind {
            TextKind::Split => "split",
            TextKind::RegexpExtract => "regexp_extract",
            TextKind::RegexpExtractAll => "regexp_extract_all",
            TextKind::RegexpSubstr => "regexp_substr",
            TextKind::GetJsonObject => "get_json_object",
            TextKind::JsonArrayLength => "json_array_length",
            TextKind::JsonObjectKeys => "json_object_keys",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            TextKind::JsonArrayLength => DataType::Int32,
            TextKind::Split | TextKind::RegexpExtractAll | TextKind::JsonObjectKeys => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
            }
            TextKind::RegexpExtract | TextKind::RegexpSubstr | TextKind::GetJsonObject => {
                DataType::Utf8
            }
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let compiled = RefCell::new(None::<(String, Regex)>);
        invoke_by_row(&args, |values| {
            let text = |i: usize| match values.get(i) {
                Some(ScalarValue::Utf8(Some(s))) => Some(s.as_str()),
                _ => None,
            };
            if matches!(
                self.kind,
                TextKind::JsonArrayLength | TextKind::JsonObjectKeys
            ) {
                return Ok(text(0).map_or(ScalarValue::Null, |json| json_shape(self.kind, json)));
            }
            let (Some(input), Some(second)) = (text(0), text(1)) else {
                return Ok(ScalarValue::Null);
            };
            let number = match values.get(2) {
                None => None,
                Some(ScalarValue::Int64(Some(n))) => Some(*n),
                Some(_) => return Ok(ScalarValue::Null),
            };
            if self.kind == TextKind::GetJsonObject {
                return Ok(ScalarValue::Utf8(json_path(input, second)));
            }
            let mut cache = compiled.borrow_mut();
            let regex = match cache.as_ref() {
                Some((pattern, regex)) if pattern == second => regex,
                _ => &cache.insert((second.to_string(), compile(second)?)).1,
            };
            let group = number.unwrap_or(1);
            Ok(match self.kind {
                TextKind::Split => split(input, second, regex, number.unwrap_or(-1)),
                TextKind::RegexpExtractAll => {
                    let found: Vec<ScalarValue> = extract_all(input, regex, group)?
                        .into_iter()
                        .map(|m| ScalarValue::Utf8(Some(m)))
                        .collect();
                    ScalarValue::List(ScalarValue::new_list_nullable(&found, &DataType::Utf8))
                }
                TextKind::RegexpSubstr => {
                    ScalarValue::Utf8(regex.find(input).map(|m| m.as_str().to_string()))
                }
                _ => ScalarValue::Utf8(Some(extract(input, regex, group)?)),
            })
        })
    }
}

fn compile(pattern: &str) -> DfResult<Regex> {
    Regex::new(pattern).map_err(|e| {
        Error::new(
            ErrorKind::InvalidRegularExpression,
            format!("invalid regular expression \"{pattern}\": {e}"),
        )
        .into()
    })
}

fn split(input: &str, pattern: &str, regex: &Regex, limit: i64) -> ScalarValue {
    let pieces: Vec<&str> = if pattern.is_empty() {
        let mut chars: Vec<&str> = input
            .char_indices()
            .map(|(i, c)| &input[i..i + c.len_utf8()])
            .collect();
        if limit > 0 && chars.len() > limit as usize {
            let keep = limit as usize - 1;
            let rest_start: usize = chars[..keep].iter().map(|s| s.len()).sum();
            chars.truncate(keep);
            chars.push(&input[rest_start..]);
        }
        if chars.is_empty() { vec![""] } else { chars }
    } else if limit > 0 {
        regex.splitn(input, limit as usize).collect()
    } else {
        regex.split(input).collect()
    };
    let values: Vec<ScalarValue> = pieces
        .into_iter()
        .map(|p| ScalarValue::Utf8(Some(p.to_string())))
        .collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Utf8))
}

fn extract(input: &str, regex: &Regex, group: i64) -> DfResult<String> {
    let group = checked_group(regex, group)?;
    Ok(regex
        .captures(input)
        .and_then(|c| c.get(group))
        .map(|m| m.as_str().to_string())
        .unwrap_or_default())
}

/// The group of every match; a group a match leaves unset is the empty string, as in Spark.
fn extract_all(input: &str, regex: &Regex, group: i64) -> DfResult<Vec<String>> {
    let group = checked_group(regex, group)?;
    Ok(regex
        .captures_iter(input)
        .map(|c| c.get(group).map_or("", |m| m.as_str()).to_string())
        .collect())
}

fn checked_group(regex: &Regex, group: i64) -> DfResult<usize> {
    let groups = regex.captures_len() - 1;
    match usize::try_from(group) {
        Ok(group) if group <= groups => Ok(group),
        _ => Err(Error::new(
            ErrorKind::InvalidParameterValue,
            format!(
                "regexp_extract group index {group} is out of range: the pattern has {groups} groups"
            ),
        )
        .into()),
    }
}

/// The length of a JSON array or the keys of a JSON object; NULL for other text.
fn json_shape(kind: TextKind, json: &str) -> ScalarValue {
    match kind {
        TextKind::JsonArrayLength => match serde_json::from_str::<serde_json::Value>(json) {
            Ok(serde_json::Value::Array(items)) => {
                ScalarValue::Int32(i32::try_from(items.len()).ok())
            }
            _ => ScalarValue::Null,
        },
        _ => match serde_json::from_str::<ObjectKeys>(json) {
            Ok(ObjectKeys(keys)) => {
                let keys: Vec<ScalarValue> = keys
                    .into_iter()
                    .map(|k| ScalarValue::Utf8(Some(k)))
                    .collect();
                ScalarValue::List(ScalarValue::new_list_nullable(&keys, &DataType::Utf8))
            }
            Err(_) => ScalarValue::Null,
        },
    }
}

/// A JSON object's keys in the order the text gives them.
struct ObjectKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for ObjectKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = ObjectKeys;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ObjectKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(ObjectKeys(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

/// One step of a JSONPath.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Every,
}

fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() {
                return None;
            }
            steps.push(if key == "*" {
                Step::Every
            } else {
                Step::Key(key.to_string())
            });
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']")?;
            steps.push(Step::Key(after[..end].to_string()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inside = after[..end].trim();
            steps.push(if inside == "*" {
                Step::Every
            } else {
                Step::Index(inside.parse().ok()?)
            });
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

fn json_path(json: &str, path: &str) -> Option<String> {
    let steps = parse_path(path)?;
    let root: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut current = vec![root];
    let mut widened = false;
    for step in &steps {
        let mut next = Vec::new();
        for value in current {
            match (step, value) {
                (Step::Key(key), serde_json::Value::Object(mut map)) => {
                    next.extend(map.remove(key));
                }
                (Step::Index(i), serde_json::Value::Array(mut items)) if *i < items.len() => {
                    next.push(items.swap_remove(*i));
                }
                (Step::Every, serde_json::Value::Array(items)) => {
                    widened = true;
                    next.extend(items);
                }
                _ => {}
            }
        }
        current = next;
    }
    let value = match (current.len(), widened) {
        (0, _) => return None,
        (1, false) => current.pop()?,
        _ => serde_json::Value::Array(current),
    };
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let doc = r#"{"a":{"b":[1,{"c":"x"}]},"s":"t","n":null,"k":"v"}"#;
        assert_eq!(json_path(doc, "$.s").as_deref(), Some("t"));
        assert_eq!(json_path(doc, "$.a.b[0]").as_deref(), Some("1"));
        assert_eq!(json_path(doc, "$.a.b[1].c").as_deref(), Some("x"));
        assert_eq!(json_path(doc, "$['k']").as_deref(), Some("v"));
        assert_eq!(
            json_path(doc, "$.a").as_deref(),
            Some(r#"{"b":[1,{"c":"x"}]}"#)
        );
        assert_eq!(
            json_path(doc, "$.a.b[*]").as_deref(),
            Some(r#"[1,{"c":"x"}]"#)
        );
        assert_eq!(json_path(doc, "$.n"), None);
        assert_eq!(json_path(doc, "$.missing"), None);
        assert_eq!(json_path("not json", "$.a"), None);
        assert_eq!(json_path(doc, "a.b"), None);
    }

    #[test]
    fn split_keeps_trailing_pieces_and_honours_limits() {
        use datafusion::arrow::array::{Array, AsArray};
        let pieces = |s: &str, p: &str, limit: i64| -> Vec<String> {
            match split(s, p, &Regex::new(p).unwrap(), limit) {
                ScalarValue::List(list) => {
                    let values = list.value(0);
                    let strings = values.as_string::<i32>();
                    (0..strings.len())
                        .map(|i| strings.value(i).to_string())
                        .collect()
                }
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(pieces("a,b,", ",", -1), ["a", "b", ""]);
        assert_eq!(pieces("a,b,c", ",", 2), ["a", "b,c"]);
        assert_eq!(pieces("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(pieces("abc", "", 2), ["a", "bc"]);
        assert_eq!(pieces("", ",", -1), [""]);
    }
}
