"""The policy gate: checkov (built-in AWS checks plus policies/) over generated output.

checkov runs from its own virtual environment (it pins an old boto3 and a forked hcl2), so
the gate only ever talks to it as a subprocess and reads its JSON report.
"""
