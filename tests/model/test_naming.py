from compiler.model.naming import kms_alias_name, model_prefix, models_bucket_name


def test_names_shared_with_terraform() -> None:
    assert models_bucket_name("assistant", "prod", "123456789012") == (
        "assistant-prod-models-123456789012"
    )
    assert kms_alias_name("assistant", "prod") == "alias/assistant-prod"
    assert model_prefix("smollm2", "2026-11-20") == "models/smollm2/2026-11-20/"
