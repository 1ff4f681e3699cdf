"""The DAG engine: pure rules (`rules`), sandboxed templates (`templates`), the asyncio runner
(`runner`), resource measurement (`metering`) and the contract with the rest of the server (`types`).

Nothing is imported here on purpose: `types` is read by modules that must not pull in Jinja.
"""
