//! Resources: two fixed ones (text and binary), the watched resource the
//! subscription scenarios name, and a template whose contents repeat the
//! identifier of the URI.

use mcp_plugin::{ExportError, Registry, Resource, ResourceContents, ResourceTemplate};

use crate::media;

/// The template `resources-templates-read` reads through.
pub const TEMPLATE: &str = "test://template/{id}/data";

/// The JSON text of `test://template/<id>/data`.
fn template_data(id: &str) -> String {
    serde_json::json!({
        "id": id,
        "templateTest": true,
        "data": format!("Data for ID: {id}"),
    })
    .to_string()
}

pub fn register(registry: &mut Registry) {
    registry
        .resource(
            Resource::new("test://static-text", "static-text")
                .title("Static Text Resource")
                .description("A static text resource for testing")
                .mime_type("text/plain")
                .static_text("This is the content of the static text resource."),
        )
        .resource(
            Resource::new("test://static-binary", "static-binary")
                .title("Static Binary Resource")
                .description("A static binary resource (a 1x1 PNG image) for testing")
                .mime_type(media::PNG_MIME)
                .reader(|_, uri| Ok(ResourceContents::blob(uri, media::png()))),
        )
        .resource(
            Resource::new("test://watched-resource", "watched-resource")
                .title("Watched Resource")
                .description("A resource clients may subscribe to")
                .mime_type("text/plain")
                .static_text("This resource is watched for updates."),
        )
        .resource_template(
            ResourceTemplate::new(TEMPLATE, "dynamic-resource")
                .title("Dynamic Resource")
                .description("A resource whose contents name the identifier in its URI")
                .mime_type("application/json")
                .reader(|_, uri, vars| {
                    let id = vars.require("id").map_err(|_| {
                        ExportError::invalid_params(format!("{uri} has no identifier"))
                    })?;
                    Ok(ResourceContents::text(uri, template_data(id)))
                }),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_data_names_the_id() {
        let data: serde_json::Value = serde_json::from_str(&template_data("123")).unwrap();
        assert_eq!(
            data,
            serde_json::json!({"id": "123", "templateTest": true, "data": "Data for ID: 123"})
        );
    }
}
