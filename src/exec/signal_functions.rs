//! `pg_cancel_backend(pid)` and `pg_terminate_backend(pid)`: signal another connection
//! through the server's registry, with PostgreSQL's rules — admins may signal anyone, other
//! users only sessions of their own; a pid that is no connection gives false with
//! PostgreSQL's WARNING.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{Error, ErrorKind};
use crate::registry::{Backend, Signal};

/// Both functions, by name, for a statement of `backend`'s session.
pub fn signal_functions(backend: &Backend) -> Vec<(&'static str, Arc<ScalarUDF>)> {
    [Signal::Cancel, Signal::Terminate]
        .into_iter()
        .map(|signal| {
            let function = SignalBackend {
                signal,
                backend: backend.clone(),
                signature: Signature::uniform(
                    1,
                    vec![DataType::Int32, DataType::Int64],
                    Volatility::Volatile,
                ),
            };
            (
                function.function_name(),
                Arc::new(ScalarUDF::new_from_impl(function)),
            )
        })
        .collect()
}

struct SignalBackend {
    signal: Signal,
    backend: Backend,
    signature: Signature,
}

impl SignalBackend {
    fn function_name(&self) -> &'static str {
        match self.signal {
            Signal::Cancel => "pg_cancel_backend",
            Signal::Terminate => "pg_terminate_backend",
        }
    }

    fn send(&self, pid: i64) -> crate::error::Result<bool> {
        let caller = &self.backend.control.peer;
        let signaled = match i32::try_from(pid) {
            Ok(pid) => self.backend.registry.signal(pid, self.signal, caller)?,
            Err(_) => false,
        };
        if !signaled {
            self.backend
                .control
                .warn(format!("PID {pid} is not a PostgreSQL backend process"));
        }
        Ok(signaled)
    }
}

impl std::fmt::Debug for SignalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalBackend")
            .field("signal", &self.signal)
            .field("caller", &self.backend.pid())
            .finish()
    }
}

impl PartialEq for SignalBackend {
    fn eq(&self, other: &Self) -> bool {
        self.signal == other.signal && self.backend.pid() == other.backend.pid()
    }
}

impl Eq for SignalBackend {}

impl Hash for SignalBackend {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.function_name().hash(state);
        self.backend.pid().hash(state);
    }
}

impl ScalarUDFImpl for SignalBackend {
    fn name(&self) -> &str {
        self.function_name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let [pids] = args.args.as_slice() else {
            return Err(Error::new(
                ErrorKind::UndefinedFunction,
                format!("{} takes one argument, a pid", self.function_name()),
            )
            .into_datafusion());
        };
        let scalar = matches!(pids, ColumnarValue::Scalar(_));
        let pids: ArrayRef = cast(&pids.to_array(1)?, &DataType::Int64)?;
        let pids = pids.as_primitive::<Int64Type>();
        let signalled: BooleanArray = pids
            .iter()
            .map(|pid| pid.map(|pid| self.send(pid)).transpose())
            .collect::<crate::error::Result<_>>()
            .map_err(Error::into_datafusion)?;
        match scalar {
            true => Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &signalled, 0,
            )?)),
            false => Ok(ColumnarValue::Array(Arc::new(signalled))),
        }
    }
}
