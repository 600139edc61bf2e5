"""Email to shoppers and the owner: `mail/{id}` documents, composed from orders, sent over SMTP."""
