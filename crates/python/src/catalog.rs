//! The object catalog in Python: `runtel.objects()`, `runtel.object_spec(name)`,
//! `ObjectSpec` and `FieldSpec`, all read from `runtel_client::catalog` (the
//! Python package keeps no copy), and the `client.DomainCDR` attributes.
//!
//! Every catalog object is an attribute of the `Client` type (a data
//! descriptor, installed when the module loads): `dir(client)` lists them, a
//! lookup finds them without going through `__getattr__`, and `__getattr__`
//! only ever sees names the catalog does not have.

use std::sync::OnceLock;

use pyo3::exceptions::{PyAttributeError, PyKeyError};
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use runtel_client::catalog::{self, FieldSpec, ObjectSpec};
use serde_json::Value;

use crate::client::{ObjectProxy, PyClient};
use crate::convert::to_py;

/// The catalog's JSON (`catalog::to_json()`), built once.
fn catalog_json() -> &'static [Value] {
    static JSON: OnceLock<Vec<Value>> = OnceLock::new();
    JSON.get_or_init(|| match catalog::to_json() {
        Value::Array(objects) => objects,
        _ => Vec::new(),
    })
}

/// A Python tuple of strings.
fn str_tuple<'py>(py: Python<'py>, items: &[&str]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, items)
}

/// One object of the catalog: what the SDK knows of it.
#[pyclass(frozen, module = "runtel._runtel", name = "ObjectSpec")]
pub struct PyObjectSpec {
    spec: &'static ObjectSpec,
    /// Its index in `catalog::OBJECTS` (and in `catalog::to_json()`).
    index: usize,
}

impl PyObjectSpec {
    fn at(index: usize) -> PyObjectSpec {
        PyObjectSpec {
            spec: &catalog::OBJECTS[index],
            index,
        }
    }

    /// The entry of a catalog object.
    pub(crate) fn of(spec: &'static ObjectSpec) -> PyObjectSpec {
        // By name (unique): a `const` slice need not have one address.
        let index = catalog::OBJECTS
            .iter()
            .position(|o| o.name == spec.name)
            .unwrap_or_default();
        PyObjectSpec::at(index)
    }

    fn named(name: &str) -> Option<PyObjectSpec> {
        catalog::OBJECTS
            .iter()
            .position(|o| o.name == name)
            .map(PyObjectSpec::at)
    }
}

#[pymethods]
impl PyObjectSpec {
    /// The name as sent in ``obj`` (``DomainCDR``).
    #[getter]
    fn name(&self) -> &'static str {
        self.spec.name
    }

    /// ``tenant`` (users and roles), ``domain`` (inside one PBX: platform
    /// operators pass ``domain_id``) or ``platform`` (platform operators only).
    #[getter]
    fn scope(&self) -> &'static str {
        self.spec.scope.as_str()
    }

    /// ``vendor`` (documented by the vendor) or ``field`` (seen in client
    /// programs; actions and fields inferred).
    #[getter]
    fn source(&self) -> &'static str {
        self.spec.source.as_str()
    }

    /// ``config`` (records clients create and change) or ``log`` (records the
    /// platform writes; read only).
    #[getter]
    fn kind(&self) -> &'static str {
        self.spec.kind.as_str()
    }

    /// The actions it answers, as a tuple.
    #[getter]
    fn actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        str_tuple(py, self.spec.actions)
    }

    /// The field that identifies a record.
    #[getter]
    fn key(&self) -> &'static str {
        self.spec.key
    }

    /// For logs, the Unix-time field to poll on (``dt``); None otherwise.
    #[getter]
    fn time_field(&self) -> Option<&'static str> {
        self.spec.time_field
    }

    /// The fields the SDK knows, as a tuple of ``FieldSpec`` (records may
    /// carry others).
    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            (0..self.spec.fields.len()).map(|i| PyFieldSpec::at(self.index, i)),
        )
    }

    /// One line for people.
    #[getter]
    fn doc(&self) -> &'static str {
        self.spec.doc
    }

    /// The known field ``name``, or None.
    fn field(&self, name: &str) -> Option<PyFieldSpec> {
        let i = self.spec.fields.iter().position(|f| f.name == name)?;
        Some(PyFieldSpec::at(self.index, i))
    }

    /// The object as the catalog's JSON has it (``runtel objects --json``,
    /// ``GET /_sim/objects``): a new dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &catalog_json()[self.index])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyObjectSpec>()
            .is_ok_and(|o| o.get().index == self.index)
    }

    fn __hash__(&self) -> u64 {
        self.index as u64
    }

    fn __repr__(&self) -> String {
        format!(
            "<runtel.ObjectSpec {} ({}, {}): {}>",
            self.spec.name,
            self.spec.scope.as_str(),
            self.spec.kind.as_str(),
            self.spec.doc
        )
    }
}

/// A known field of an object.
#[pyclass(frozen, module = "runtel._runtel", name = "FieldSpec")]
pub struct PyFieldSpec {
    spec: &'static FieldSpec,
    /// Its object's index in `catalog::OBJECTS`, and its own in the object's fields.
    object: usize,
    index: usize,
}

impl PyFieldSpec {
    fn at(object: usize, index: usize) -> PyFieldSpec {
        PyFieldSpec {
            spec: &catalog::OBJECTS[object].fields[index],
            object,
            index,
        }
    }
}

#[pymethods]
impl PyFieldSpec {
    /// The field's name.
    #[getter]
    fn name(&self) -> &'static str {
        self.spec.name
    }

    /// ``int``, ``str``, ``email``, ``bool``, ``dict``, ``list``,
    /// ``unix_time`` or ``any``.
    #[getter]
    fn r#type(&self) -> &'static str {
        self.spec.ty.as_str()
    }

    /// Required when creating a record (``append``).
    #[getter]
    fn required(&self) -> bool {
        self.spec.required
    }

    /// May be None.
    #[getter]
    fn nullable(&self) -> bool {
        self.spec.nullable
    }

    /// Sent by the server, never accepted from a client (``id``).
    #[getter]
    fn read_only(&self) -> bool {
        self.spec.read_only
    }

    /// The shortest length of a string (0 when none is known).
    #[getter]
    fn min_len(&self) -> usize {
        self.spec.min_len
    }

    /// The longest length of a string, or None when no limit is known.
    #[getter]
    fn max_len(&self) -> Option<usize> {
        (self.spec.max_len > 0).then_some(self.spec.max_len)
    }

    /// The values an integer field allows, as a tuple (empty: any).
    #[getter]
    fn choices<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.spec.choices)
    }

    /// The field as the catalog's JSON has it: a new dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let entry = &catalog_json()[self.object]["fields"][self.index];
        to_py(py, entry)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyFieldSpec>()
            .is_ok_and(|o| o.get().spec == self.spec)
    }

    fn __hash__(&self) -> u64 {
        // Fields of several objects may be equal (`id`): hash what they are.
        let s = self.spec;
        let mut h: u64 = 1469598103934665603;
        for b in s.name.bytes().chain(s.ty.as_str().bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
        }
        h
    }

    fn __repr__(&self) -> String {
        let mut notes = vec![self.spec.ty.as_str().to_owned()];
        if self.spec.required {
            notes.push("required".into());
        }
        if self.spec.read_only {
            notes.push("read only".into());
        }
        format!(
            "<runtel.FieldSpec {} ({})>",
            self.spec.name,
            notes.join(", ")
        )
    }
}

/// ``objects()``: every object of the catalog, in its order.
#[pyfunction]
pub fn objects() -> Vec<PyObjectSpec> {
    (0..catalog::OBJECTS.len()).map(PyObjectSpec::at).collect()
}

/// ``object_spec(name)``: the catalog's object ``name`` (exact spelling);
/// ``KeyError`` naming the nearest object when it has none.
#[pyfunction]
pub fn object_spec(name: &str) -> PyResult<PyObjectSpec> {
    PyObjectSpec::named(name).ok_or_else(|| {
        let hint = catalog::suggest_object(name)
            .map(|s| format!("; did you mean {s}?"))
            .unwrap_or_default();
        PyKeyError::new_err(format!("no object {name:?} in the catalog{hint}"))
    })
}

/// ``client.DomainCDR``: on a client, the object's proxy; on the class, itself.
/// Read only.
#[pyclass(frozen, module = "runtel._runtel", name = "CatalogObject")]
pub struct CatalogObject {
    spec: &'static ObjectSpec,
}

#[pymethods]
impl CatalogObject {
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: &Bound<'_, PyAny>,
        _owner: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if instance.is_none() {
            return Ok(slf.clone().into_any().unbind());
        }
        let client = instance.cast::<PyClient>()?;
        let proxy = ObjectProxy::new(client.clone().unbind(), slf.get().spec);
        Ok(Bound::new(slf.py(), proxy)?.into_any().unbind())
    }

    fn __set__(&self, _instance: &Bound<'_, PyAny>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyAttributeError::new_err(format!(
            "{} is an object of the catalog: read only",
            self.spec.name
        )))
    }

    fn __delete__(&self, _instance: &Bound<'_, PyAny>) -> PyResult<()> {
        self.__set__(_instance, _instance)
    }

    fn __repr__(&self) -> String {
        format!("<runtel catalog object {}>", self.spec.name)
    }
}

/// Makes every catalog object an attribute of `Client`.
pub fn install(cls: &Bound<'_, PyType>) -> PyResult<()> {
    let py = cls.py();
    for spec in catalog::OBJECTS {
        cls.setattr(spec.name, Bound::new(py, CatalogObject { spec })?)?;
    }
    Ok(())
}

/// The message of the `AttributeError` for `client.<name>` when the catalog
/// has no object `name`.
pub fn unknown_attribute(name: &str) -> String {
    let plain = format!("'Client' object has no attribute '{name}'");
    // Object names start with a capital letter; anything else is a plain typo.
    if !name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
        return plain;
    }
    let send_anyway =
        format!("client.call({name:?}, action, ...) sends an object the catalog does not know");
    match catalog::suggest_object(name) {
        Some(s) => {
            format!("{plain}: no object {name} in the catalog; did you mean {s}? ({send_anyway})")
        }
        None => format!(
            "{plain}: no object {name} in the catalog (runtel.objects() lists them; \
             {send_anyway})"
        ),
    }
}
