"""CloudWatch alarms and dashboard widgets: one shape for every view that watches something.

Every alarm of the stack notifies its region's alarm topic and is named after its label, so
an alarm built by the experiment, audit, backup, DNS or replication view reads like one of
observability.tf's, and a fix to that shape (actions, naming) lands everywhere at once.
"""

from __future__ import annotations

from compiler.terraform.hcl import Block, Ref, Value, resource

from .region import Region

PERIOD_S = 60
# Alarms built without a region are the primary's; Region only needs its name for the
# provider of the secondary, so the primary's placeholder name is never rendered.
PRIMARY = Region("primary", secondary=False)


def alarm(
    label: str,
    body: dict[str, Value],
    *queries: Block,
    where: Region | None = None,
    notify_ok: bool = True,
) -> Block:
    """An alarm that notifies its region's topic (the primary's unless `where` says).

    The name is the deployment's with the label's dashes unless `body` names it; `notify_ok`
    False leaves out the OK notification (one-shot events such as a failed backup job).
    """
    where = where or PRIMARY
    topic = Ref(f"aws_sns_topic.{where.label('alarms')}.arn")
    head: dict[str, Value] = {"alarm_name": where.aws_name(f"-{label.replace('_', '-')}"), **body}
    actions: dict[str, Value] = {"alarm_actions": [topic]}
    if notify_ok:
        actions["ok_actions"] = [topic]
    return resource(
        "aws_cloudwatch_metric_alarm",
        where.label(label),
        [where.on({**head, **actions}), *queries],
    )


def on_any_event(period: int) -> dict[str, Value]:
    """How an alarm on a count of failures fires: on the first one in `period` seconds."""
    return {
        "statistic": "Sum",
        "period": period,
        "evaluation_periods": 1,
        "threshold": 0,
        "comparison_operator": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
    }


def metric_query(id_: str, metric: dict[str, Value]) -> Block:
    """A metric query of an alarm that reads one metric (`metric`: namespace, name, ...)."""
    return Block("metric_query", (), [{"id": id_}, Block("metric", (), metric)])


def expression_query(id_: str, expression: str, label: str) -> Block:
    """The metric query of an alarm whose value the alarm watches (`return_data`)."""
    return Block(
        "metric_query",
        (),
        {"id": id_, "expression": expression, "label": label, "return_data": True},
    )


def widget(
    region: str, title: str, metrics: list[Value], x: int, y: int, stat: str
) -> dict[str, Value]:
    """One 12x6 metric widget of a dashboard."""
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": PERIOD_S,
            "metrics": metrics,
        },
    }
