//! PostgreSQL functions whose answer depends on the session: `version()`,
//! `current_database()`, `current_schema()`, `current_user`, `pg_backend_pid()`,
//! `current_setting()`, `set_config()`, ... They are built per statement from its
//! [`QueryContext`] and found by the resolver before DataFusion's own functions.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use crate::session::{QueryContext, Variables};

/// The `version()` text: PostgreSQL's shape, which drivers parse, with lakeport's version.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {} (lakeport {}) on {}-{}, compiled by rustc, 64-bit",
        crate::session::variables::SERVER_VERSION,
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
    )
}

/// Whether `statement` calls `current_schema` or `current_schemas`: the only session
/// functions that need every schema's name, which the planner then fetches (so other
/// statements plan while a metastore is down).
pub fn needs_schema_names(statement: &datafusion::sql::sqlparser::ast::Statement) -> bool {
    use datafusion::sql::sqlparser::ast::{Expr, visit_expressions};
    let mut needed = false;
    let _ = visit_expressions(statement, |expr| {
        let name = match expr {
            Expr::Function(function) => function.name.to_string(),
            Expr::Identifier(ident) => ident.value.clone(),
            _ => return std::ops::ControlFlow::<()>::Continue(()),
        };
        needed |= matches!(
            name.to_ascii_lowercase().as_str(),
            "current_schema" | "current_schemas"
        );
        std::ops::ControlFlow::Continue(())
    });
    needed
}

/// The session functions for one statement, by lowercase name.
pub fn session_functions(
    ctx: &QueryContext,
    existing_schemas: &[String],
) -> HashMap<String, Arc<ScalarUDF>> {
    let mut functions = HashMap::new();
    let mut constant = |name: &str, value: ScalarValue| {
        functions.insert(
            name.to_string(),
            Arc::new(ScalarUDF::new_from_impl(SessionConstant::new(name, value))),
        );
    };
    let text = |s: &str| ScalarValue::Utf8(Some(s.to_string()));
    let current_schema = ctx
        .search_path
        .iter()
        .find(|s| existing_schemas.contains(s))
        .cloned();
    constant("version", text(&version_string()));
    constant("current_database", text(&ctx.database));
    constant("current_catalog", text(&ctx.database));
    constant("current_schema", ScalarValue::Utf8(current_schema));
    constant("current_user", text(&ctx.user));
    constant("session_user", text(&ctx.user));
    constant("user", text(&ctx.user));
    constant("current_role", text(&ctx.user));
    constant("pg_backend_pid", ScalarValue::Int32(Some(ctx.pid)));

    let visible: Vec<String> = ctx
        .search_path
        .iter()
        .filter(|s| existing_schemas.contains(s))
        .cloned()
        .collect();
    functions.insert(
        "current_schemas".into(),
        Arc::new(ScalarUDF::new_from_impl(CurrentSchemas::new(visible))),
    );
    functions.insert(
        "pg_typeof".into(),
        Arc::new(ScalarUDF::new_from_impl(TypeOf::new())),
    );
    for kind in [TextKind::LikeEscape, TextKind::JsonBuildObject] {
        let function = TextFunction::new(kind);
        functions.insert(
            function.name().to_string(),
            Arc::new(ScalarUDF::new_from_impl(function)),
        );
    }
    for (name, function) in super::signal_functions::signal_functions(&ctx.backend) {
        functions.insert(name.into(), function);
    }
    for (name, kind) in [
        ("current_setting", SettingKind::Get),
        ("set_config", SettingKind::Set),
    ] {
        functions.insert(
            name.into(),
            Arc::new(ScalarUDF::new_from_impl(SettingFunction::new(
                kind,
                ctx.variables.clone(),
            ))),
        );
    }
    #[cfg(debug_assertions)]
    functions.insert(
        "lakeport_debug_panic".into(),
        Arc::new(ScalarUDF::new_from_impl(DebugPanic::new())),
    );
    functions
}

/// `lakeport_debug_panic(message)`: panics when it runs — a failpoint for the tests of panic
/// handling, in debug builds only (release builds do not have it). Immutable, so a constant
/// argument panics while the statement is planned (in the connection's task) and a column
/// argument while it executes (on the engine's runtime).
#[cfg(debug_assertions)]
#[derive(Debug, PartialEq, Eq, Hash)]
struct DebugPanic {
    signature: Signature,
}

#[cfg(debug_assertions)]
impl DebugPanic {
    fn new() -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

#[cfg(debug_assertions)]
impl ScalarUDFImpl for DebugPanic {
    fn name(&self) -> &str {
        "lakeport_debug_panic"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let message = match args.args.first() {
            Some(ColumnarValue::Scalar(value)) => value.to_string(),
            _ => "lakeport_debug_panic".to_string(),
        };
        panic!("{message}");
    }
}

/// A nullary function with a value fixed for the statement.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SessionConstant {
    name: String,
    value: ScalarValue,
    signature: Signature,
}

impl SessionConstant {
    fn new(name: &str, value: ScalarValue) -> Self {
        Self {
            name: name.to_string(),
            value,
            signature: Signature::nullary(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for SessionConstant {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(
        &self,
        _args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

/// `pg_typeof(any)`: the PostgreSQL name of the argument's type, as `regtype` prints it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypeOf {
    signature: Signature,
}

impl TypeOf {
    fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TypeOf {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let name = args.arg_fields.first().and_then(|field| {
            let oid = crate::pgtypes::pg_type(field.data_type()).oid;
            crate::pg_catalog::types::format_type(i64::from(oid), -1)
        });
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(name)))
    }
}

/// `current_schemas(include_implicit boolean)`: the search path's existing schemas.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSchemas {
    visible: Vec<String>,
    signature: Signature,
}

impl CurrentSchemas {
    fn new(visible: Vec<String>) -> Self {
        Self {
            visible,
            signature: Signature::exact(vec![DataType::Boolean], Volatility::Stable),
        }
    }

    fn list(&self, implicit: bool) -> ScalarValue {
        let mut names: Vec<ScalarValue> = Vec::new();
        if implicit {
            names.push(ScalarValue::Utf8(Some("pg_catalog".into())));
        }
        names.extend(
            self.visible
                .iter()
                .map(|s| ScalarValue::Utf8(Some(s.clone()))),
        );
        ScalarValue::List(ScalarValue::new_list_nullable(&names, &DataType::Utf8))
    }
}

impl ScalarUDFImpl for CurrentSchemas {
    fn name(&self) -> &str {
        "current_schemas"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Boolean(b)) => {
                Ok(ColumnarValue::Scalar(self.list(b.unwrap_or(false))))
            }
            ColumnarValue::Array(array) => {
                let flags = array.as_boolean();
                let values: Vec<ScalarValue> = (0..flags.len())
                    .map(|i| self.list(flags.is_valid(i) && flags.value(i)))
                    .collect();
                Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
            }
            other => exec_err!("current_schemas: unexpected argument {other:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SettingKind {
    /// `current_setting(name [, missing_ok])`
    Get,
    /// `set_config(name, value, is_local)`
    Set,
}

/// `current_setting` and `set_config`, over the session's live variables.
#[derive(Debug)]
struct SettingFunction {
    kind: SettingKind,
    variables: Variables,
    signature: Signature,
}

impl SettingFunction {
    fn new(kind: SettingKind, variables: Variables) -> Self {
        let signature = match kind {
            SettingKind::Get => Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                // Stable, as in PostgreSQL: constant within a statement, so planning may fold
                // it (table functions such as generate_series need constant arguments).
                Volatility::Stable,
            ),
            SettingKind::Set => Signature::exact(
                vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
                Volatility::Volatile,
            ),
        };
        Self {
            kind,
            variables,
            signature,
        }
    }

    fn apply(
        &self,
        args: &[Option<String>],
        missing_ok: bool,
    ) -> datafusion::common::Result<Option<String>> {
        let Some(name) = args.first().cloned().flatten() else {
            return Ok(None);
        };
        match self.kind {
            SettingKind::Get => match self.variables.get(&name) {
                Ok((_, value)) => Ok(Some(value)),
                Err(_) if missing_ok => Ok(None),
                Err(e) => Err(e.into_datafusion()),
            },
            SettingKind::Set => {
                let value = args.get(1).cloned().flatten().unwrap_or_default();
                self.variables
                    .set(&name, &value)
                    .map(Some)
                    .map_err(|e| e.into_datafusion())
            }
        }
    }
}

impl PartialEq for SettingFunction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for SettingFunction {}

impl Hash for SettingFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

impl ScalarUDFImpl for SettingFunction {
    fn name(&self) -> &str {
        match self.kind {
            SettingKind::Get => "current_setting",
            SettingKind::Set => "set_config",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows.max(1)))
            .collect::<datafusion::common::Result<_>>()?;
        let text_at =
            |array: &ArrayRef, row: usize| -> datafusion::common::Result<Option<String>> {
                if array.is_null(row) {
                    return Ok(None);
                }
                match ScalarValue::try_from_array(array, row)? {
                    ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => {
                        Ok(s)
                    }
                    ScalarValue::Boolean(b) => Ok(b.map(|b| b.to_string())),
                    other => Ok(Some(other.to_string())),
                }
            };
        let count = if all_scalar { 1 } else { rows };
        let mut out = StringBuilder::with_capacity(count, count * 8);
        for row in 0..count {
            let values: Vec<Option<String>> = arrays
                .iter()
                .map(|a| text_at(a, row))
                .collect::<datafusion::common::Result<_>>()?;
            let missing_ok = self.kind == SettingKind::Get
                && values
                    .get(1)
                    .cloned()
                    .flatten()
                    .is_some_and(|v| v == "true");
            out.append_option(self.apply(&values, missing_ok)?);
        }
        let array: ArrayRef = Arc::new(out.finish());
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &array, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(array))
        }
    }
}

/// Evaluates a function row by row over scalar values, each result made a value of
/// `output` (NULLs typed): one scalar when every argument is a scalar, else an array. For
/// the small catalog and text functions that have no vectorised form.
pub fn invoke_by_row(
    args: &ScalarFunctionArgs,
    row: impl Fn(&[ScalarValue]) -> datafusion::common::Result<ScalarValue>,
) -> datafusion::common::Result<ColumnarValue> {
    let output = args.return_field.data_type();
    let value_at = |i: usize| -> datafusion::common::Result<ScalarValue> {
        let values = args
            .args
            .iter()
            .map(|arg| match arg {
                ColumnarValue::Scalar(s) => Ok(s.clone()),
                ColumnarValue::Array(a) => ScalarValue::try_from_array(a, i),
            })
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let value = row(&values)?;
        if value.is_null() {
            ScalarValue::try_from(output)
        } else if value.data_type() != *output {
            value.cast_to(output)
        } else {
            Ok(value)
        }
    };
    if args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)))
    {
        return Ok(ColumnarValue::Scalar(value_at(0)?));
    }
    if args.number_rows == 0 {
        return Ok(ColumnarValue::Array(
            datafusion::arrow::array::new_empty_array(output),
        ));
    }
    let values = (0..args.number_rows)
        .map(value_at)
        .collect::<datafusion::common::Result<Vec<_>>>()?;
    Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TextKind {
    /// `like_escape(pattern, escape)`: a LIKE pattern with its own escape character, written
    /// with backslash escapes (what `LIKE … ESCAPE 'x'` is rewritten to).
    LikeEscape,
    /// `json_build_object(key, value, ...)`, as JSON text.
    JsonBuildObject,
}

/// PostgreSQL text functions DataFusion lacks, evaluated row by row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextFunction {
    kind: TextKind,
    signature: Signature,
}

impl TextFunction {
    fn new(kind: TextKind) -> Self {
        Self {
            kind,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }

    fn row(&self, values: &[ScalarValue]) -> Option<String> {
        let text = |v: &ScalarValue| match v {
            ScalarValue::Utf8(t) | ScalarValue::Utf8View(t) | ScalarValue::LargeUtf8(t) => {
                t.clone()
            }
            other if other.is_null() => None,
            other => Some(other.to_string()),
        };
        match self.kind {
            TextKind::LikeEscape => {
                let pattern = text(values.first()?)?;
                let escape = text(values.get(1)?)?.chars().next()?;
                let mut out = String::with_capacity(pattern.len());
                let mut chars = pattern.chars();
                while let Some(c) = chars.next() {
                    if c == escape {
                        out.push('\\');
                        out.extend(chars.next());
                    } else if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                Some(out)
            }
            TextKind::JsonBuildObject => {
                let mut members = Vec::new();
                for pair in values.chunks(2) {
                    let key = text(&pair[0]).unwrap_or_default();
                    let value = match pair.get(1) {
                        None => "null".to_string(),
                        Some(v) if v.is_null() => "null".to_string(),
                        Some(ScalarValue::Boolean(Some(b))) => b.to_string(),
                        Some(v) if v.data_type().is_numeric() => v.to_string(),
                        Some(v) => json_string(&text(v).unwrap_or_default()),
                    };
                    members.push(format!("{} : {value}", json_string(&key)));
                }
                Some(format!("{{{}}}", members.join(", ")))
            }
        }
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    crate::pgtypes::write_json_string(&mut out, text);
    out
}

impl ScalarUDFImpl for TextFunction {
    fn name(&self) -> &str {
        match self.kind {
            TextKind::LikeEscape => "like_escape",
            TextKind::JsonBuildObject => "json_build_object",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        invoke_by_row(&args, |values| Ok(ScalarValue::Utf8(self.row(values))))
    }
}
