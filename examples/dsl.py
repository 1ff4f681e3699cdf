"""Pipeline DSL: the error-handling deploy pipeline declared in Python, validated offline, then run.

References (`add.output.model_id`, `params.cluster_id`) become templates and add `depends_on`;
conditions (`deploy.status == "failed"`) become expressions; action helpers are typed.
"""

import asyncio
import json

from budai_async import AsyncBudClient
from budai_async.pipeline.dsl import PipelineBuilder, Retry, actions, params


def build() -> PipelineBuilder:
    pipe = PipelineBuilder("Resilient Deployment (DSL)", description="built with budai_async.pipeline.dsl")
    cluster = pipe.param("cluster_id", type="string", default="cluster_prod")
    health = pipe.step(
        "health_check",
        actions.cluster_health(cluster_id=cluster),
        retry=Retry(max_attempts=3, backoff_multiplier=2, initial_delay_seconds=0.1),
    )
    add = pipe.step("add_model", actions.model_add(model_uri=params.model_uri, model_source="hugging_face"))
    deploy = pipe.step(
        "deploy",
        actions.deployment_create(model_id=add.output.model_id, cluster_id=cluster, replicas=2),
        depends_on=[health],
        condition=health.output.status == "healthy",
        timeout_seconds=60,
    )
    pipe.step(
        "notify_failure",
        actions.notification(message=f"Deployment of {params.model_uri} failed", channel="slack"),
        condition=deploy.status == "failed",
    )
    pipe.output("endpoint_url", deploy.output.endpoint_url)
    return pipe


async def main() -> None:
    pipe = build()
    result = pipe.validate()  # offline, with the server's own validator; raises ValidationError
    print(f"valid: {result.valid}")
    print(json.dumps(pipe.build()["steps"][2], indent=2))

    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(definition=pipe)
        execution = await client.executions.create(
            pipeline.id, params={"model_uri": "meta-llama/Llama-3.2-1B-Instruct"}, wait=True, timeout=60
        )
        print(f"{pipeline.name}: {execution.status}")
        print(f"endpoint: {execution.outputs['endpoint_url']}")


if __name__ == "__main__":
    asyncio.run(main())
