"""Guide: Actions in Pipelines. The action catalogue, and the guide's common action types validated.

Every action has an id, a type (`action`), params and optional `depends_on`.
"""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        catalogue = await client.actions.list()
        print(f"{len(catalogue)} action types:")
        for action in catalogue:
            names = ", ".join(action.params_schema["properties"])
            required = action.params_schema.get("required", [])
            print(f"  {action.type:<18} params: {names} (required: {required})")

        log_action = await client.actions.get("log")
        print(f"log outputs: {log_action.outputs}")

        definition = {
            "steps": [
                {
                    "id": "logger",
                    "action": "log",
                    "params": {"message": "Processing started", "level": "info"},
                },
                {
                    "id": "fetch_data",
                    "action": "api_call",
                    "params": {
                        "url": "https://api.example.com/data",
                        "method": "POST",
                        "headers": {"Content-Type": "application/json"},
                    },
                },
                {
                    "id": "check_status",
                    "action": "condition",
                    "params": {"condition": "params.value > 100", "on_true": "path_a", "on_false": "path_b"},
                },
                {"id": "path_a", "action": "log", "params": {"message": "big"}},
                {"id": "path_b", "action": "log", "params": {"message": "small"}},
            ]
        }
        result = await client.pipelines.validate(definition)
        print(f"common action types valid: {result.valid}")

        # A conditional branch in action: only one of path_a / path_b runs.
        execution = await client.executions.run_ephemeral(
            {"steps": [definition["steps"][0], *definition["steps"][2:]]}, params={"value": 150}, wait=True
        )
        print(f"branch taken: {execution.steps['check_status'].output['branch']}")
        print(f"path_b: {execution.steps['path_b'].status} ({execution.steps['path_b'].skip_reason})")


if __name__ == "__main__":
    asyncio.run(main())
