//! `runtel.where(...)` and `runtel.Filter`: filters as code, built by the core's
//! `Filter`, `Condition` and `Op` (one operator table for every front end).
//!
//! `where("dt", ">=", t) & where("src_name", "contains", "Ив")` joins with AND,
//! `|` with OR. The wire form has one join for all its conditions (`type` 0 or
//! 1), so a filter mixing `&` and `|` is refused rather than sent as something
//! else.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};
use runtel_client::{field, Condition, Filter, Op};
use serde_json::Value;

use crate::convert::{from_py_named, to_py};
use crate::errors::{invalid_input, to_py_err};

/// A filter of a list call: conditions joined by AND or by OR. Immutable;
/// ``&`` and ``|`` make new filters.
#[pyclass(frozen, module = "runtel._runtel", name = "Filter")]
pub struct PyFilter {
    conditions: Vec<Condition>,
    /// The join: None until one was chosen (a single `where`), then false for
    /// AND (`&`, `type` 0) or true for OR (`|`, `type` 1). It only matters with
    /// two conditions or more, but is kept so that `from_dict` round-trips.
    any: Option<bool>,
}

impl PyFilter {
    /// The core's filter (AND when no join was chosen).
    fn filter(&self) -> Filter {
        Filter {
            conditions: self.conditions.clone(),
            any: self.any.unwrap_or(false),
        }
    }

    /// The wire form: `{"field_list": [...], "type": 0|1}`.
    pub(crate) fn to_json(&self) -> Value {
        self.filter().to_json()
    }

    /// True when this filter joins two conditions or more with OR (`any`) or
    /// with AND (`!any`).
    fn joins(&self, any: bool) -> bool {
        self.conditions.len() >= 2 && self.any == Some(any)
    }

    /// `self & other` (`any` false) or `self | other` (`any` true).
    fn join(&self, py: Python<'_>, other: &Bound<'_, PyAny>, any: bool) -> PyResult<Py<PyAny>> {
        let Ok(other) = other.cast::<PyFilter>() else {
            return Ok(py.NotImplemented());
        };
        let other = other.get();
        if self.joins(!any) || other.joins(!any) {
            return Err(invalid_input(
                py,
                "cannot mix & (AND) and | (OR) in one filter: the API joins all the \
                 conditions of a filter one way (type 0: AND, type 1: OR); send one call \
                 per alternative, or narrow the results in Python",
            ));
        }
        let mut conditions = self.conditions.clone();
        conditions.extend(other.conditions.iter().cloned());
        let joined = PyFilter {
            conditions,
            any: Some(any),
        };
        Ok(Bound::new(py, joined)?.into_any().unbind())
    }

    /// The value of a condition, as Python writes `where(...)` the way it reads.
    fn repr_value(py: Python<'_>, v: &Value) -> PyResult<String> {
        Ok(to_py(py, v)?.repr()?.to_cow()?.into_owned())
    }
}

#[pymethods]
impl PyFilter {
    /// A filter from its wire form (a dict ``{"field_list": [...], "type": 0|1}``,
    /// as ``to_dict`` gives it); ``InvalidInputError`` when it is not one.
    #[staticmethod]
    #[pyo3(signature = (wire, /))]
    fn from_dict(wire: &Bound<'_, PyAny>) -> PyResult<PyFilter> {
        let py = wire.py();
        let v = from_py_named(wire, "filter")?;
        let f = Filter::from_json(&v).map_err(|e| to_py_err(py, &e))?;
        Ok(PyFilter {
            conditions: f.conditions,
            any: Some(f.any),
        })
    }

    /// The wire form as a new dict: ``{"field_list": [{"field",
    /// "condition_type", "value"}], "type": 0|1}`` (0: AND, 1: OR).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.to_json())
    }

    /// ``(field, operator, value)`` for each condition, the operator as a
    /// symbol (``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``~`` for contains).
    #[getter]
    fn conditions<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.conditions
            .iter()
            .map(|c| {
                let items = [
                    PyString::new(py, &c.field).into_any(),
                    PyString::new(py, c.op.symbol()).into_any(),
                    to_py(py, &c.value)?,
                ];
                PyTuple::new(py, items)
            })
            .collect()
    }

    /// True when the conditions are joined by OR (``type`` 1), False for AND.
    #[getter]
    fn any(&self) -> bool {
        self.any.unwrap_or(false)
    }

    fn __and__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.join(py, other, false)
    }

    fn __or__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.join(py, other, true)
    }

    /// ``other & self``, for a left operand that did not handle it.
    fn __rand__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match other.cast::<PyFilter>() {
            Ok(o) => o.get().join(slf.py(), slf.as_any(), false),
            Err(_) => Ok(slf.py().NotImplemented()),
        }
    }

    /// ``other | self``, for a left operand that did not handle it.
    fn __ror__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match other.cast::<PyFilter>() {
            Ok(o) => o.get().join(slf.py(), slf.as_any(), true),
            Err(_) => Ok(slf.py().NotImplemented()),
        }
    }

    fn __len__(&self) -> usize {
        self.conditions.len()
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> Py<PyAny> {
        match other.cast::<PyFilter>() {
            Ok(o) => pyo3::types::PyBool::new(py, self.to_json() == o.get().to_json())
                .to_owned()
                .into_any()
                .unbind(),
            Err(_) => py.NotImplemented(),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // A single `where` or a chain of them, when that is what builds it again.
        let chain =
            !self.conditions.is_empty() && (self.conditions.len() >= 2 || self.any != Some(true));
        if !chain {
            let wire = to_py(py, &self.to_json())?.repr()?.to_cow()?.into_owned();
            return Ok(format!("runtel.Filter.from_dict({wire})"));
        }
        let join = if self.any == Some(true) { " | " } else { " & " };
        let parts = self
            .conditions
            .iter()
            .map(|c| {
                let field = PyString::new(py, &c.field).repr()?.to_cow()?.into_owned();
                let value = PyFilter::repr_value(py, &c.value)?;
                Ok(format!(
                    "runtel.where({field}, '{}', {value})",
                    c.op.symbol()
                ))
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(parts.join(join))
    }

    /// Pickles (and copies) as ``Filter.from_dict(wire)``.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let from_dict = py.get_type::<PyFilter>().getattr("from_dict")?;
        let args = PyTuple::new(py, [self.to_dict(py)?])?;
        PyTuple::new(py, [from_dict, args.into_any()])
    }
}

/// The `datetime` module's classes and values the conversion needs, looked up once.
struct DateTypes {
    datetime: Py<PyAny>,
    date: Py<PyAny>,
    utc: Py<PyAny>,
    epoch: Py<PyAny>,
    epoch_date: Py<PyAny>,
}

fn date_types(py: Python<'_>) -> PyResult<&DateTypes> {
    static TYPES: PyOnceLock<DateTypes> = PyOnceLock::new();
    TYPES.get_or_try_init(py, || {
        // Through the module: the datetime C API is not part of the abi3 ABI.
        let m = py.import("datetime")?;
        let datetime = m.getattr("datetime")?;
        let date = m.getattr("date")?;
        let utc = m.getattr("timezone")?.getattr("utc")?;
        let kw = PyDict::new(py);
        kw.set_item("tzinfo", &utc)?;
        let epoch = datetime.call((1970, 1, 1), Some(&kw))?;
        let epoch_date = date.call1((1970, 1, 1))?;
        Ok(DateTypes {
            datetime: datetime.unbind(),
            date: date.unbind(),
            utc: utc.unbind(),
            epoch: epoch.unbind(),
            epoch_date: epoch_date.unbind(),
        })
    })
}

/// Whole seconds and microseconds of a `timedelta` (floored: `-0.5 s` is
/// `(-1, 500000)`, as `timedelta` keeps it).
fn timedelta_parts(delta: &Bound<'_, PyAny>) -> PyResult<(i64, i64)> {
    let days: i64 = delta.getattr("days")?.extract()?;
    let seconds: i64 = delta.getattr("seconds")?.extract()?;
    let micros: i64 = delta.getattr("microseconds")?.extract()?;
    Ok((days * 86_400 + seconds, micros))
}

/// A condition's value as JSON: a `datetime` or `date` becomes Unix seconds,
/// anything else is sent as JSON takes it.
///
/// A naive `datetime` is read as UTC, a `date` as its midnight UTC. A fraction
/// of a second is rounded the way that keeps the comparison exact for whole
/// seconds (`>=` and `<` up, `<=` and `>` down); for `=`, `!=` and `~` it is
/// refused.
fn condition_value(py: Python<'_>, op: Op, v: &Bound<'_, PyAny>) -> PyResult<Value> {
    let types = date_types(py)?;
    let (seconds, micros) = if v.is_instance(types.datetime.bind(py))? {
        let aware = if v.call_method0("utcoffset")?.is_none() {
            let kw = PyDict::new(py);
            kw.set_item("tzinfo", types.utc.bind(py))?;
            v.call_method("replace", (), Some(&kw))?
        } else {
            v.clone()
        };
        timedelta_parts(&aware.sub(types.epoch.bind(py))?)?
    } else if v.is_instance(types.date.bind(py))? {
        timedelta_parts(&v.sub(types.epoch_date.bind(py))?)?
    } else {
        return from_py_named(v, "where: value");
    };
    if micros == 0 {
        return Ok(seconds.into());
    }
    match op {
        Op::Ge | Op::Lt => Ok((seconds + 1).into()),
        Op::Le | Op::Gt => Ok(seconds.into()),
        Op::Eq | Op::Ne | Op::Contains => Err(invalid_input(
            py,
            &format!(
                "where: {} compares Unix times in whole seconds; {} has a fraction of a \
                 second (drop it: .replace(microsecond=0))",
                op.symbol(),
                v.repr()?
            ),
        )),
    }
}

/// ``where(field, op, value)`` or ``where("field OP value")``: a filter of one
/// condition, to join with ``&`` (AND) or ``|`` (OR).
#[pyfunction]
#[pyo3(name = "where", signature = (*args))]
pub fn where_(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<PyFilter> {
    let condition = match args.len() {
        3 => {
            let name = args.get_item(0)?;
            let name = name.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err("where(field, op, value): field must be a str")
            })?;
            let op = args.get_item(1)?;
            let op = op.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(
                    "where(field, op, value): op must be a str such as '>=' or 'ge'",
                )
            })?;
            let op = Op::parse(&op.to_cow()?).map_err(|e| to_py_err(py, &e))?;
            let value = condition_value(py, op, &args.get_item(2)?)?;
            field(&name.to_cow()?).op(op, value)
        }
        1 => {
            let text = args.get_item(0)?;
            let text = text.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err("where(text): text must be a str such as 'dt>=1704067200'")
            })?;
            let text = text.to_cow()?;
            Filter::parse_condition(&text).map_err(|e| to_py_err(py, &e))?
        }
        n => {
            return Err(PyTypeError::new_err(format!(
                "where() takes (field, op, value) or one text such as 'dt>=1704067200', \
                 not {n} arguments"
            )))
        }
    };
    if condition.field.is_empty() {
        return Err(invalid_input(py, "where: the field name is empty"));
    }
    Ok(PyFilter {
        conditions: vec![condition],
        any: None,
    })
}
