"""Fan-out with the blocking client: `create_many`, then `as_completed` as a plain iterator."""

from budai_async import BudClient

DEPLOY = {
    "steps": [
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add.output.model_id }}",
                "cluster_id": "{{ params.cluster_id }}",
            },
            "depends_on": ["add"],
        },
        {"id": "add", "action": "model_add", "params": {"model_uri": "{{ params.model_uri }}"}},
    ]
}


def main() -> None:
    with BudClient() as client:
        pipeline = client.pipelines.create(name="Sync batch", definition=DEPLOY)
        param_sets = [
            {"cluster_id": cluster, "model_uri": f"org/model-{n}"}
            for n, cluster in enumerate(["cluster_prod", "cluster_dev", "cluster_missing"])
        ]
        result = client.executions.create_many(pipeline.id, param_sets)
        print(f"created: {result.counts.created}")
        ids = [item.execution.id for item in result if item.execution is not None]
        for execution in client.executions.as_completed(ids, timeout=60):
            print(f"ended: {execution.params['cluster_id']} {execution.status}")
        ended = client.executions.wait_all(ids, timeout=60)
        print(f"in input order: {[str(e.status) for e in ended]}")


if __name__ == "__main__":
    main()
