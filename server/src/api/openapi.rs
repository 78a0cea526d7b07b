//! The OpenAPI 3.1 document served at `/api`, derived from the handlers' `#[utoipa::path]`
//! declarations and the request and response types (their `ToSchema` and `IntoParams`), as the
//! router is built (see [`super::routes`]): a route and its documentation are one declaration.
//! OGC API – Features gets one items path per collection with its property filters declared as
//! query parameters (which is how GDAL and QGIS learn them) and its own feature properties.
//! `rentgrid openapi` writes the same document, which the web map's types are generated from.

use super::OPENAPI_JSON;
use super::features::{BuildingProperties, GridProperties};
use super::geojson::{Feature, FeatureCollection};
use super::ogc::{
    self, CONFORMANCE, CRS84, Collection, CommunityProperties, DEFAULT_LIMIT, Kind, LandingPage, MAX_LIMIT,
    RentalUnitProperties, StreetProperties, WorkplaceProperties,
};
use crate::access::policy::{self, Access};
use crate::api::error::Exception;
use crate::api::identity::SESSION_COOKIE;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, OpenApi as Document, Ref, RefOr, Required, ResponseBuilder, ResponsesBuilder, Server,
};
use utoipa::{OpenApi, PartialSchema, ToSchema};

/// What the document says before the routes add their paths: title, tags, the landing page.
#[derive(OpenApi)]
#[openapi(
    info(title = "rentgrid", license(name = "MIT")),
    paths(landing_page),
    components(schemas(
        Exception,
        Binary,
        super::coverage::RuleName,
        rentgrid_analysis::metrics::Metric,
        rentgrid_analysis::kpi::Level
    )),
    tags(
        (name = "Capabilities", description = "what the service offers"),
        (name = "Data", description = "features of each collection"),
        (name = "API", description = "the web map's JSON endpoints"),
        (name = "Campaigns", description = "蚕食法 sweep campaigns and the unregistered candidates"),
        (name = "Persons", description = "person records and household cards, masked unless revealed with a reason"),
        (name = "Field", description = "the caseworker at the door: persons registered, moved, left and edited, each write once by its client id; conflicts between edits"),
        (name = "Hazards", description = "safety hazards to closure (整治): recorded at the door, assigned, rectified, verified or reopened; deadlines per kind and severity, yellow and red when overdue; photos"),
        (name = "Door plates", description = "门牌二维码: a building's sheet of QR plates, what a scanned plate opens, revocation"),
        (name = "Tiles", description = "vector tiles and their TileJSON"),
        (name = "Access", description = "login, logout, the logged-in user and their API tokens"),
        (name = "Audit", description = "the audit log (留痕) of reads, writes and logins, for the auditor"),
        (name = "System", description = "operations"),
    )
)]
struct Base;

/// A file's bytes (an export, a ledger, a vector tile).
pub(crate) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("the file's bytes"))
            .into()
    }
}

impl ToSchema for Binary {}

/// The document the routes start from.
pub(super) fn base() -> Document {
    Base::openapi()
}

/// `GET /`: the landing page, answered by [`ogc::landing_at_root`] to clients asking for JSON.
#[utoipa::path(get, path = "/", tag = "Capabilities", operation_id = "landing_page",
    summary = "the landing page (ask for JSON: ?f=json or Accept: application/json)",
    params(ogc::FormatParam),
    responses((status = 200, description = "the landing page as JSON; a browser (or `?f=` anything else) gets the \
        web map's page", content((LandingPage = "application/json"), (String = "text/html")))))]
#[allow(dead_code)]
fn landing_page() {}

/// The whole document, derived once: the routes' operations, then one items path per collection.
pub fn document() -> Document {
    let (_, mut doc) = super::routes().split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(format!(
        "Rental housing and grid management: OGC API – Features for every layer ({}) and the web map's JSON API. \
         Coordinates are WGS84 longitude/latitude ({CRS84}). Every answer carries an `x-request-id` header \
         (the client's own when it is 1 to 64 letters, digits or `-_.:`, else a new one); error bodies quote it as \
         `request_id`. Conforms to: {}.",
        Collection::ALL.map(Collection::id).join(", "),
        CONFORMANCE.join(", ")
    ));
    let mut schemas = Vec::new();
    for c in Collection::ALL {
        let (page, one) = item_schemas(c, &mut schemas);
        doc.paths.add_path_operation(
            format!("/collections/{}/items", c.id()),
            vec![HttpMethod::Get],
            items_operation(c, page),
        );
        doc.paths.add_path_operation(
            format!("/collections/{}/items/{{featureId}}", c.id()),
            vec![HttpMethod::Get],
            item_operation(c, one),
        );
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    add_limit_responses(&mut doc);
    add_access(&mut doc);
    add_parsing_responses(&mut doc);
    doc
}

/// Every operation of the document, with its path and its method (upper case).
fn operations(doc: &mut Document) -> impl Iterator<Item = (&str, &'static str, &mut Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            ("GET", &mut item.get),
            ("POST", &mut item.post),
            ("PUT", &mut item.put),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ]
        .into_iter()
        .filter_map(move |(method, op)| Some((path.as_str(), method, op.as_mut()?)))
    })
}

/// The router's template of a documented path (the items paths are documented per collection,
/// routed once), as the access policy names it.
fn route_template(path: &str) -> String {
    match path.strip_prefix("/collections/").and_then(|rest| rest.split_once("/items")) {
        Some((_, "")) => "/collections/{id}/items".to_owned(),
        Some((_, _)) => "/collections/{id}/items/{fid}".to_owned(),
        None => path.to_owned(),
    }
}

/// What [`policy`] says of each operation: the ways to sign in (an API token, or the session
/// cookie the login sets) and 401 for an anonymous caller on every route that is not public;
/// 403 for a signed-in caller of another role where only some roles may call it.
fn add_access(doc: &mut Document) {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .add_security_scheme("token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))));
    for (path, method, op) in operations(doc) {
        let template = route_template(path);
        let access = if path == "/" {
            policy::LANDING
        } else {
            policy::rule_for(method, &template).map_or(Access::Roles(&[]), |r| r.access)
        };
        if access == Access::Public {
            continue;
        }
        op.security = Some(vec![
            SecurityRequirement::new("token", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
        let responses = &mut op.responses.responses;
        responses.entry("401".to_owned()).or_insert_with(|| {
            error("not signed in: POST /api/login, or send an API token as Authorization: Bearer").into()
        });
        if let Access::Roles(roles) = access {
            let names: Vec<String> = roles.iter().map(ToString::to_string).collect();
            responses
                .entry("403".to_owned())
                .or_insert_with(|| error(&format!("a role that may not call this (only {})", names.join(", "))).into());
        }
    }
}

/// 400 for every operation whose path or query parameters can fail to parse, and 400 (not JSON)
/// and 422 (JSON not of the schema) for every operation taking a JSON body.
fn add_parsing_responses(doc: &mut Document) {
    for (_, _, op) in operations(doc) {
        let parameters = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
        let json = matches!(&op.request_body, Some(RefOr::T(b)) if b.content.contains_key("application/json"));
        let responses = &mut op.responses.responses;
        if parameters {
            responses
                .entry("400".to_owned())
                .or_insert_with(|| error("a parameter that does not parse, or one this endpoint does not take").into());
        }
        if json {
            responses.entry("400".to_owned()).or_insert_with(|| error("a body that is not JSON").into());
            responses
                .entry("422".to_owned())
                .or_insert_with(|| error("a JSON body that does not fit this endpoint's schema").into());
        }
    }
}

/// The answers of [`super::limits`] every operation may give: 503 when the server is too busy,
/// the request ran out of time or the database is away; for a write, 403 from another site, 413
/// for a body too large, 415 for a form, and 507 when the disk under the store is full.
fn add_limit_responses(doc: &mut Document) {
    for (_, method, op) in operations(doc) {
        let write = method != "GET";
        let responses = &mut op.responses.responses;
        let mut add = |status: &str, description: &str| {
            responses.entry(status.to_owned()).or_insert_with(|| error(description).into());
        };
        add(
            "503",
            "the server is too busy, the request ran out of time, or the database is away for now: try again after \
             Retry-After seconds",
        );
        if write {
            add("403", "a write sent from a page of another site (Origin, Sec-Fetch-Site), or not allowed");
            add("413", "a body larger than this endpoint takes");
            add("415", "a body of a type this endpoint does not take (a form, text/plain)");
            add("507", "the disk under the store is full: nothing was written");
        }
    }
}

/// The document, derived at the first request.
static DOCUMENT: LazyLock<Document> = LazyLock::new(document);

/// `GET /api`: this document, with the caller's server and the district named.
#[utoipa::path(get, path = "/api", tag = "Capabilities", operation_id = "api_definition",
    summary = "this document",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/vnd.oai.openapi+json;version=3.1")))]
pub(super) async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = ogc::base_url(&headers);
    let mut doc = DOCUMENT.clone();
    doc.servers = Some(vec![Server::new(if base.is_empty() { "/" } else { base.as_str() })]);
    let district = state.atlas().district().name.clone();
    doc.info.description = doc.info.description.map(|d| {
        d.replacen(
            "Rental housing and grid management",
            &format!("Rental housing and grid management of {district}"),
            1,
        )
    });
    match doc.to_json() {
        Ok(body) => ([(header::CONTENT_TYPE, media_type(&headers))], body).into_response(),
        Err(e) => crate::error::AppError::Internal(e.to_string()).into_response(),
    }
}

/// The media type `/api` answers with: the OpenAPI 3.1 type, unless the client asks only for the
/// 3.0 type or plain JSON (GDAL's OAPIF driver up to 3.x accepts nothing else and then ignores the
/// document, losing the collections' filters): it gets the same document as `application/json`.
fn media_type(headers: &HeaderMap) -> &'static str {
    let accept = headers.get(header::ACCEPT).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let wants_31 = accept.contains("version=3.1") || accept.contains("*/*") || accept.is_empty();
    if !wants_31 && accept.contains("application/json") { "application/json" } else { OPENAPI_JSON }
}

/// The schemas of a page of `c`'s items and of one item (their dependencies added to `schemas`).
fn item_schemas(c: Collection, schemas: &mut Vec<(String, RefOr<Schema>)>) -> (RefOr<Schema>, RefOr<Schema>) {
    fn of<P: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> (RefOr<Schema>, RefOr<Schema>) {
        schemas.push((P::name().into_owned(), P::schema()));
        P::schemas(schemas);
        <Feature<P> as ToSchema>::schemas(schemas);
        <FeatureCollection<P> as ToSchema>::schemas(schemas);
        (FeatureCollection::<P>::schema(), Feature::<P>::schema())
    }
    match c {
        Collection::Grids => of::<GridProperties>(schemas),
        Collection::Streets => of::<StreetProperties>(schemas),
        Collection::Communities => of::<CommunityProperties>(schemas),
        Collection::Buildings => of::<BuildingProperties>(schemas),
        Collection::RentalUnits => of::<RentalUnitProperties>(schemas),
        Collection::Workplaces => of::<WorkplaceProperties>(schemas),
    }
}

/// A reference to a component schema.
fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// A response with a JSON body of `schema`.
fn body(description: &str, media: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(media, ContentBuilder::new().schema(Some(schema)).build())
        .build()
}

/// An error response.
fn error(description: &str) -> utoipa::openapi::Response {
    body(description, "application/json", reference("Exception"))
}

/// A query parameter of the items paths.
fn query(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .style(Some(utoipa::openapi::path::ParameterStyle::Form))
        .explode(Some(false))
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// `f`, the format.
fn format_parameter() -> Parameter {
    query(
        "f",
        "the format: JSON (GeoJSON for features)",
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["json"])),
    )
}

/// The query parameter filtering items on one of their properties.
fn queryable_parameter(q: &ogc::Queryable) -> Parameter {
    let schema = match q.kind {
        Kind::Text => ObjectBuilder::new().schema_type(Type::String),
        Kind::Integer => ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)),
        Kind::Boolean => ObjectBuilder::new().schema_type(Type::Boolean),
        Kind::OneOf(words) => ObjectBuilder::new().schema_type(Type::String).enum_values(Some(words.iter().copied())),
    };
    query(q.name, &format!("only features whose `{}` equals this: {}", q.name, q.description), schema)
}

/// `GET /collections/{c}/items`.
fn items_operation(c: Collection, page: RefOr<Schema>) -> Operation {
    let mut params = vec![
        query(
            "bbox",
            "only features whose bounding box meets this box: minLon,minLat,maxLon,maxLat (CRS84)",
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::Number))
                .min_items(Some(4))
                .max_items(Some(4)),
        ),
        query(
            "limit",
            &format!("features per page; more than {MAX_LIMIT} is answered with {MAX_LIMIT}"),
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_LIMIT as f64))
                .default(Some(DEFAULT_LIMIT.into())),
        ),
        query(
            "offset",
            "how many matching features to skip (the `next` link sets it)",
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).default(Some(0.into())),
        ),
        format_parameter(),
    ];
    params.extend(c.queryables().iter().map(queryable_parameter));
    OperationBuilder::new()
        .operation_id(Some(format!("get_{}_items", c.id())))
        .summary(Some(format!("{}: a page of features", c.title())))
        .description(Some(format!(
            "{} Features are ordered by id; follow the `next` link for the following page. Property filters match \
             exactly. Unknown query parameters are rejected (400).",
            c.description()
        )))
        .tag("Data")
        .parameters(Some(params))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    body(&format!("{} ({} geometries)", c.title(), c.geometry_type()), super::geojson::GEOJSON, page),
                )
                .response("400", error("a malformed bbox, limit or offset, a bad filter value or an unknown parameter"))
                .response("404", error("no such collection"))
                .response("500", error("a server error")),
        )
        .request_body(None::<RequestBody>)
        .build()
}

/// `GET /collections/{c}/items/{featureId}`.
fn item_operation(c: Collection, one: RefOr<Schema>) -> Operation {
    let fid = ParameterBuilder::new()
        .name("featureId")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("a feature's id: a number, or a street's or community's code"))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build();
    OperationBuilder::new()
        .operation_id(Some(format!("get_{}_item", c.id())))
        .summary(Some(format!("{}: one feature", c.title())))
        .tag("Data")
        .parameters(Some(vec![fid, format_parameter()]))
        .responses(
            ResponsesBuilder::new()
                .response("200", body("the feature", super::geojson::GEOJSON, one))
                .response("400", error("an unknown parameter"))
                .response("404", error("no such feature, or one the caller may not see"))
                .response("500", error("a server error")),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The web map's types are generated from `web-map/openapi.json`: it must be what the server
    /// derives, or a field the map uses could leave the API unnoticed.
    #[test]
    fn the_checked_in_document_is_what_the_server_derives() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-map/openapi.json");
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        let derived = crate::api::openapi_json().unwrap();
        assert!(
            checked_in == derived,
            "{} differs from the document the server derives: run \
             `cargo run -p rentgrid-server -- openapi --output web-map/openapi.json` and commit it",
            path.display()
        );
    }

    /// Every `$ref` resolves, every operation answers something, and no response with a body
    /// is a bare object: each names its properties.
    #[test]
    fn every_reference_resolves_and_every_response_has_a_schema() {
        let doc = serde_json::to_value(document()).unwrap();
        let text = doc.to_string();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("\"$ref\":\"#/") {
            let tail = &rest[i + 9..];
            let end = tail.find('"').unwrap();
            let pointer = &tail[..end];
            assert!(doc.pointer(pointer).is_some(), "unresolved $ref #/{pointer}");
            rest = &tail[end..];
        }
        let resolve = |s: &Value| -> Value {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => doc.pointer(r.trim_start_matches('#')).cloned().unwrap_or(Value::Null),
                None => s.clone(),
            }
        };
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'));
            for (method, op) in item.as_object().unwrap() {
                assert!(["get", "post", "patch", "delete"].contains(&method.as_str()), "{method} {path}");
                let responses = op["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{method} {path}");
                for (status, r) in responses {
                    for (media, content) in r["content"].as_object().into_iter().flatten() {
                        let schema = resolve(&content["schema"]);
                        let bare = schema.get("type") == Some(&Value::from("object"))
                            && schema.get("properties").is_none()
                            && schema.get("additionalProperties").is_none();
                        assert!(!bare, "{method} {path} {status} {media}: a bare object");
                    }
                }
            }
        }
    }
}
