//! Customers and orders in the operator's `crm` database (the `sql`
//! capability). `find_customer` reads; `record_order` writes an order in a
//! transaction, and asks the host first whether this caller may write, so a
//! caller whose role is read-only is told so instead of failing on the first
//! statement. Statements bind every value as a parameter.

use mcp_plugin::{Context, SqlValue, ToolError, ToolOutput, tool};
use schemars::JsonSchema;
use serde::Serialize;

/// The database the operator configures for this plugin.
const DATABASE: &str = "crm";

/// The most customers one search returns.
const MAX_MATCHES: i64 = 20;

#[derive(Serialize, JsonSchema)]
struct Customer {
    id: i64,
    name: String,
    email: String,
    city: Option<String>,
    /// How many orders the customer has placed.
    orders: i64,
}

#[derive(Serialize, JsonSchema)]
struct Customers {
    customers: Vec<Customer>,
}

/// Find customers whose name or email contains the given text (case does
/// not matter), with how many orders each has placed
#[tool(title = "Find customer", read_only, idempotent, open_world = false, output = Customers)]
fn find_customer(
    ctx: &Context,
    /// Part of the customer's name or email address.
    query: String,
) -> Result<ToolOutput, ToolError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(ToolError::new("give part of a name or an email address"));
    }
    ctx.progress(0.0, Some(1.0), Some("searching customers"));
    let pattern = format!(
        "%{}%",
        query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = ctx.sql(DATABASE).query(
        "SELECT c.id, c.name, c.email, c.city, \
                (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) AS orders \
         FROM customers c \
         WHERE c.name LIKE ?1 ESCAPE '\\' OR c.email LIKE ?1 ESCAPE '\\' \
         ORDER BY c.name LIMIT ?2",
        &[pattern.into(), MAX_MATCHES.into()],
    )?;
    let customers: Vec<Customer> = rows
        .rows
        .iter()
        .map(|row| Customer {
            id: row[0].as_i64().unwrap_or_default(),
            name: row[1].as_str().unwrap_or_default().to_string(),
            email: row[2].as_str().unwrap_or_default().to_string(),
            city: row[3].as_str().map(str::to_string),
            orders: row[4].as_i64().unwrap_or_default(),
        })
        .collect();
    ctx.progress(1.0, Some(1.0), Some("done"));
    ctx.info(&format!(
        "find_customer: {} match(es) for {query:?}",
        customers.len()
    ));
    let text = if customers.is_empty() {
        format!("No customer matches {query:?}.")
    } else {
        customers
            .iter()
            .map(|c| {
                format!(
                    "#{} {} <{}>{} — {} order(s)",
                    c.id,
                    c.name,
                    c.email,
                    c.city
                        .as_deref()
                        .map(|city| format!(", {city}"))
                        .unwrap_or_default(),
                    c.orders
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(ToolOutput::structured(&Customers { customers })?.with_text(text))
}

#[derive(Serialize, JsonSchema)]
struct RecordedOrder {
    customer_id: i64,
    /// The customer's orders, this one included.
    customer_orders: i64,
}

/// Record an order for a customer, found by email address; needs write
/// access to the `crm` database
#[tool(title = "Record order", open_world = false, output = RecordedOrder)]
fn record_order(
    ctx: &Context,
    /// The customer's email address.
    email: String,
    /// What was ordered.
    item: String,
    /// How many (at least 1).
    #[schemars(range(min = 1))]
    quantity: i64,
    /// The order's total, in cents.
    #[schemars(range(min = 0))]
    total_cents: i64,
) -> Result<ToolOutput, ToolError> {
    let grant = ctx.grant("sql");
    if !grant.granted {
        return Err(ToolError::new(format!(
            "recording an order needs the `{DATABASE}` database: {}",
            grant.reason.unwrap_or_default()
        )));
    }
    if grant.scope["write"] != true {
        return Err(ToolError::new(format!(
            "recording an order needs write access to `{DATABASE}`, which your role lacks \
             (you may still search with find_customer)"
        )));
    }
    ctx.progress(0.0, Some(2.0), Some("finding the customer"));
    let db = ctx.sql(DATABASE);
    let found = db.query(
        "SELECT id FROM customers WHERE email = ?1",
        &[email.as_str().into()],
    )?;
    let Some(customer_id) = found.rows.first().and_then(|row| row[0].as_i64()) else {
        return Err(ToolError::new(format!(
            "no customer has the email {email:?}"
        )));
    };
    ctx.progress(1.0, Some(2.0), Some("recording the order"));
    let params: Vec<SqlValue> = vec![
        customer_id.into(),
        item.as_str().into(),
        quantity.into(),
        total_cents.into(),
    ];
    // Both statements take effect, or neither does.
    db.transaction(&[
        (
            "INSERT INTO orders (customer_id, item, quantity, total_cents) \
             VALUES (?1, ?2, ?3, ?4)",
            params,
        ),
        (
            "UPDATE customers SET last_order_at = datetime('now') WHERE id = ?1",
            vec![customer_id.into()],
        ),
    ])?;
    let summary = db.query(
        "SELECT count(*) AS orders FROM orders WHERE customer_id = ?1",
        &[customer_id.into()],
    )?;
    let customer_orders = summary
        .get(0, "orders")
        .and_then(SqlValue::as_i64)
        .unwrap_or_default();
    ctx.progress(2.0, Some(2.0), Some("done"));
    ctx.notice(&format!(
        "record_order: an order for customer #{customer_id}"
    ));
    let recorded = RecordedOrder {
        customer_id,
        customer_orders,
    };
    Ok(ToolOutput::structured(&recorded)?.with_text(format!(
        "Recorded {quantity} × {item} for {email} ({customer_orders} order(s) in all)."
    )))
}

mcp_plugin::plugin!(tools: [find_customer, record_order]);
