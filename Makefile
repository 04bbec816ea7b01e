# The two commands a newcomer needs (see README):
#   make run    set everything up and start Maum on http://127.0.0.1:8000
#   make test   set everything up and run the whole test suite
.PHONY: run test lint bench bench-tts bench-text bench-risk bench-pronounce load train-emotion train-risk

run:
	bash scripts/setup.sh run
	HF_HUB_OFFLINE=1 .venv/bin/gunicorn wsgi:app -c gunicorn.conf.py

test:
	bash scripts/setup.sh test
	MAUM_TEST_POSTGRES_URL=$$(bash scripts/test_postgres.sh) HF_HUB_OFFLINE=1 .venv/bin/python -m pytest
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

bench:
	HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.pipeline_bench

bench-tts:
	HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.tts_intelligibility

bench-text:
	HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.text_models_bench

bench-risk:
	HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.risk_bench

bench-pronounce:
	HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.pronunciation_bench

load:
	HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.load_test --clients 8 --turns 5

train-emotion:
	.venv/bin/python -m training.train_emotion_head

train-risk:
	HF_HUB_OFFLINE=1 .venv/bin/python -m training.train_risk_head
