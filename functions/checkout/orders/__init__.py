"""The order book: the Order document and its constructor, the status state machine, money,
the checkout and order documents, the attempt cap, fulfilment."""
