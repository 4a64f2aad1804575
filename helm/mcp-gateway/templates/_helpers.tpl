{{/*
Names, labels, and the wiring every template shares: where DATABASE_URL and REDIS_URL come from,
which Secret holds what, and the render-time checks (mcp-gateway.validate).
*/}}

{{- define "mcp-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; suffixed names (-postgresql, -migrate) must stay within 63. */}}
{{- define "mcp-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mcp-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcp-gateway.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "mcp-gateway.fullname" .) }}
{{- end }}

{{- define "mcp-gateway.redis.fullname" -}}
{{- printf "%s-redis" (include "mcp-gateway.fullname" .) }}
{{- end }}

{{/* Name of the hook-time ConfigMap and Secret of the migration Job. */}}
{{- define "mcp-gateway.migrate.fullname" -}}
{{- printf "%s-migrate" (include "mcp-gateway.fullname" .) }}
{{- end }}

{{/* Common labels. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "mcp-gateway.labels" -}}
helm.sh/chart: {{ include "mcp-gateway.chart" .root }}
{{ include "mcp-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Selector labels. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "mcp-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-gateway.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "mcp-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcp-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mcp-gateway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
A value as an env string. YAML numbers may reach templates as float64, which print as 4.194304e+06;
whole numbers are printed as integers.
*/}}
{{- define "mcp-gateway.envValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}

{{/* The chart's own Secret (gateway secrets, and database and Redis credentials given inline). */}}
{{- define "mcp-gateway.secretName" -}}
{{- include "mcp-gateway.fullname" . }}
{{- end }}

{{/* Secret holding JWT_SECRET_KEY, AUTH_ENCRYPTION_SECRET and BASIC_AUTH_PASSWORD. */}}
{{- define "mcp-gateway.authSecretName" -}}
{{- default (include "mcp-gateway.secretName" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The gateway's own secrets, as Secret data (OTEL_EXPORTER_OTLP_HEADERS only when set). */}}
{{- define "mcp-gateway.authSecretData" -}}
{{- $s := .Values.secrets -}}
JWT_SECRET_KEY: {{ $s.JWT_SECRET_KEY | b64enc | quote }}
AUTH_ENCRYPTION_SECRET: {{ $s.AUTH_ENCRYPTION_SECRET | b64enc | quote }}
BASIC_AUTH_PASSWORD: {{ $s.BASIC_AUTH_PASSWORD | b64enc | quote }}
{{- with $s.OTEL_EXPORTER_OTLP_HEADERS }}
OTEL_EXPORTER_OTLP_HEADERS: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/* "in-chart", "external" or "sqlite". */}}
{{- define "mcp-gateway.database.mode" -}}
{{- $ext := .Values.externalDatabase }}
{{- if .Values.postgresql.enabled }}in-chart
{{- else if or $ext.url $ext.host $ext.existingSecretUrlKey }}external
{{- else }}sqlite
{{- end }}
{{- end }}

{{/* "in-chart", "external" or "" (no Redis). */}}
{{- define "mcp-gateway.redis.mode" -}}
{{- if .Values.redis.enabled }}in-chart
{{- else if or .Values.externalRedis.url .Values.externalRedis.existingSecret }}external
{{- end }}
{{- end }}

{{- define "mcp-gateway.cacheType" -}}
{{- if .Values.config.CACHE_TYPE }}
{{- .Values.config.CACHE_TYPE }}
{{- else if include "mcp-gateway.redis.mode" . }}redis
{{- else }}memory
{{- end }}
{{- end }}

{{/* Whether the in-chart Redis has a password. */}}
{{- define "mcp-gateway.redis.auth" -}}
{{- if and .Values.redis.enabled (or .Values.redis.auth.password .Values.redis.auth.existingSecret) }}true{{ end }}
{{- end }}

{{/*
ConfigMap data: every values.config entry, plus what the chart decides (HOST, CACHE_TYPE).
Shared by the gateway's ConfigMap and the migration hook's copy.
*/}}
{{- define "mcp-gateway.configData" -}}
HOST: "0.0.0.0"
CACHE_TYPE: {{ include "mcp-gateway.cacheType" . | quote }}
{{- range $key, $value := .Values.config }}
{{- if ne $key "CACHE_TYPE" }}
{{ $key }}: {{ include "mcp-gateway.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Database credentials the chart keeps itself (given inline in values), as Secret data. Shared by
the gateway's Secret and the migration hook's copy.
*/}}
{{- define "mcp-gateway.databaseSecretData" -}}
{{- $mode := include "mcp-gateway.database.mode" . }}
{{- $ext := .Values.externalDatabase }}
{{- if and (eq $mode "in-chart") (not .Values.postgresql.auth.existingSecret) }}
DATABASE_PASSWORD: {{ .Values.postgresql.auth.password | b64enc | quote }}
{{- else if and (eq $mode "external") (not $ext.existingSecret) }}
{{- if $ext.url }}
DATABASE_URL: {{ $ext.url | b64enc | quote }}
{{- else }}
DATABASE_PASSWORD: {{ $ext.password | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Redis credentials the chart keeps itself, as Secret data. */}}
{{- define "mcp-gateway.redisSecretData" -}}
{{- if and .Values.redis.enabled .Values.redis.auth.password (not .Values.redis.auth.existingSecret) }}
REDIS_PASSWORD: {{ .Values.redis.auth.password | b64enc | quote }}
{{- else if and (not .Values.redis.enabled) .Values.externalRedis.url (not .Values.externalRedis.existingSecret) }}
REDIS_URL: {{ .Values.externalRedis.url | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
Secret (name and key) of the in-chart PostgreSQL's password; the StatefulSet and the gateway read
the same one. Call with (dict "root" $ "secretName" <the chart Secret to use>).
*/}}
{{- define "mcp-gateway.postgresql.passwordRef" -}}
{{- $auth := .root.Values.postgresql.auth }}
{{- if $auth.existingSecret }}
name: {{ $auth.existingSecret }}
key: {{ $auth.existingSecretPasswordKey }}
{{- else }}
name: {{ .secretName }}
key: DATABASE_PASSWORD
{{- end }}
{{- end }}

{{- define "mcp-gateway.redis.passwordRef" -}}
{{- $auth := .root.Values.redis.auth }}
{{- if $auth.existingSecret }}
name: {{ $auth.existingSecret }}
key: {{ $auth.existingSecretPasswordKey }}
{{- else }}
name: {{ .secretName }}
key: REDIS_PASSWORD
{{- end }}
{{- end }}

{{/*
Container env entries that make DATABASE_URL (none for SQLite). A URL built here takes the
password through Kubernetes' $(VAR) expansion, so it never appears in the pod spec.
Call with (dict "root" $ "secretName" <the chart Secret to use>).
*/}}
{{- define "mcp-gateway.databaseEnv" -}}
{{- $root := .root }}
{{- $mode := include "mcp-gateway.database.mode" $root }}
{{- $ext := $root.Values.externalDatabase }}
{{- if eq $mode "in-chart" }}
{{- $pg := $root.Values.postgresql }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "mcp-gateway.postgresql.passwordRef" . | trim | nindent 6 }}
- name: DATABASE_URL
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s:5432/%s" $pg.auth.username (include "mcp-gateway.postgresql.fullname" $root) $pg.auth.database | quote }}
{{- else if eq $mode "external" }}
{{- if and $ext.existingSecret $ext.existingSecretUrlKey }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ext.existingSecret }}
      key: {{ $ext.existingSecretUrlKey }}
{{- else if and $ext.url (not $ext.existingSecret) }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: DATABASE_URL
{{- else }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $ext.existingSecret | default .secretName }}
      key: {{ ternary $ext.existingSecretPasswordKey "DATABASE_PASSWORD" (not (empty $ext.existingSecret)) }}
- name: DATABASE_URL
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s:%s/%s%s" $ext.user $ext.host (include "mcp-gateway.envValue" $ext.port) $ext.database (ternary (printf "?%s" $ext.params) "" (not (empty $ext.params))) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Container env entries that make REDIS_URL. Call with (dict "root" $ "secretName" ...). */}}
{{- define "mcp-gateway.redisEnv" -}}
{{- $root := .root }}
{{- $mode := include "mcp-gateway.redis.mode" $root }}
{{- if eq $mode "in-chart" }}
{{- if include "mcp-gateway.redis.auth" $root }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "mcp-gateway.redis.passwordRef" . | trim | nindent 6 }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "mcp-gateway.redis.fullname" $root) | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "mcp-gateway.redis.fullname" $root) | quote }}
{{- end }}
{{- else if eq $mode "external" }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if $root.Values.externalRedis.existingSecret }}
      name: {{ $root.Values.externalRedis.existingSecret }}
      key: {{ $root.Values.externalRedis.existingSecretUrlKey }}
      {{- else }}
      name: {{ .secretName }}
      key: REDIS_URL
      {{- end }}
{{- end }}
{{- end }}

{{/* The migration Job's hook phases: the in-chart database exists only after the install. */}}
{{- define "mcp-gateway.migrate.hook" -}}
{{- if .Values.postgresql.enabled }}post-install,pre-upgrade{{ else }}pre-install,pre-upgrade{{ end }}
{{- end }}

{{/* preStop sleep, then PM2's GRACEFUL_TIMEOUT + 5 s before it kills workers, then 5 s margin. */}}
{{- define "mcp-gateway.terminationGracePeriodSeconds" -}}
{{- add (int .Values.lifecycle.preStopSleepSeconds) (int .Values.config.GRACEFUL_TIMEOUT) 10 }}
{{- end }}

{{/* Pods at most: the HPA's ceiling (or replicaCount), plus the rollout's surge (rounded up). */}}
{{- define "mcp-gateway.maxPods" -}}
{{- $pods := ternary (int .Values.hpa.maxReplicas) (int .Values.replicaCount) .Values.hpa.enabled }}
{{- $surge := .Values.rollingUpdate.maxSurge }}
{{- if kindIs "string" $surge }}
{{- $pct := int (trimSuffix "%" $surge) }}
{{- add $pods (div (add (mul $pods $pct) 99) 100) }}
{{- else }}
{{- add $pods (int $surge) }}
{{- end }}
{{- end }}

{{/* NetworkPolicy egress rules that both the gateway and the migration Job need: DNS, the database. */}}
{{- define "mcp-gateway.networkPolicy.dnsEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
{{- define "mcp-gateway.networkPolicy.databaseEgress" -}}
{{- $mode := include "mcp-gateway.database.mode" . }}
{{- if eq $mode "in-chart" }}
- to:
    - podSelector:
        matchLabels:
          {{- include "mcp-gateway.selectorLabels" (dict "root" . "component" "postgresql") | nindent 10 }}
  ports:
    - port: 5432
      protocol: TCP
{{- else if eq $mode "external" }}
- ports:
    - port: {{ include "mcp-gateway.envValue" .Values.externalDatabase.port }}
      protocol: TCP
  {{- with .Values.networkPolicy.egress.externalDatabaseTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Render-time checks for what the schema cannot express. Each failure names the value to change.
*/}}
{{- define "mcp-gateway.validate" -}}
{{- $v := .Values }}
{{- $dbMode := include "mcp-gateway.database.mode" . }}
{{- $cache := include "mcp-gateway.cacheType" . }}
{{- $workers := toString (include "mcp-gateway.envValue" $v.config.WORKERS) }}
{{- $multiPod := or $v.hpa.enabled (gt (int $v.replicaCount) 1) }}
{{- /* secrets */}}
{{- if not $v.secrets.existingSecret }}
{{- $laptop := dict "JWT_SECRET_KEY" "my-test-key" "AUTH_ENCRYPTION_SECRET" "my-test-salt" "BASIC_AUTH_PASSWORD" "changeme" }}
{{- range $key := list "JWT_SECRET_KEY" "AUTH_ENCRYPTION_SECRET" }}
{{- if not (get $v.secrets $key) }}
{{- fail (printf "secrets.%s is required (e.g. --set secrets.%s=$(openssl rand -hex 32)), or set secrets.existingSecret" $key $key) }}
{{- end }}
{{- end }}
{{- range $key, $default := $laptop }}
{{- if eq (get $v.secrets $key) $default }}
{{- fail (printf "secrets.%s is the gateway's laptop default %q: choose a real secret" $key $default) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* database */}}
{{- if and $v.postgresql.enabled (or $v.externalDatabase.url $v.externalDatabase.host $v.externalDatabase.existingSecret) }}
{{- fail "externalDatabase is set while postgresql.enabled is true: set postgresql.enabled=false to use the external database" }}
{{- end }}
{{- if and $v.postgresql.enabled (not $v.postgresql.auth.password) (not $v.postgresql.auth.existingSecret) }}
{{- fail "postgresql.auth.password is required for the in-chart PostgreSQL (URL-safe, e.g. $(openssl rand -hex 24)), or set postgresql.auth.existingSecret" }}
{{- end }}
{{- if eq $dbMode "external" }}
{{- $ext := $v.externalDatabase }}
{{- if and (not $ext.url) (not $ext.existingSecretUrlKey) (not $ext.password) (not $ext.existingSecret) }}
{{- fail "externalDatabase.host needs externalDatabase.password or externalDatabase.existingSecret" }}
{{- end }}
{{- if and $ext.url (not (regexMatch "^postgres(ql)?://" $ext.url)) }}
{{- fail "externalDatabase.url must be postgres://... or postgresql://..." }}
{{- end }}
{{- if and $ext.existingSecretUrlKey (not $ext.existingSecret) }}
{{- fail "externalDatabase.existingSecretUrlKey needs externalDatabase.existingSecret" }}
{{- end }}
{{- end }}
{{- if and (eq $dbMode "sqlite") (or $v.externalDatabase.existingSecret $v.externalDatabase.password) }}
{{- fail "externalDatabase has credentials but no host (or url, or existingSecretUrlKey)" }}
{{- end }}
{{- if and (eq $dbMode "sqlite") $multiPod }}
{{- fail "no database configured: SQLite lives in one pod's emptyDir, so replicaCount must be 1 and hpa off; enable postgresql or set externalDatabase" }}
{{- end }}
{{- /* migrations */}}
{{- if and (ne $dbMode "sqlite") (not $v.config.MIGRATE_ON_START) }}
{{- if not $v.migration.enabled }}
{{- fail "config.MIGRATE_ON_START=false with migration.enabled=false: nothing would ever migrate the schema" }}
{{- end }}
{{- if $v.postgresql.enabled }}
{{- fail "config.MIGRATE_ON_START=false with the in-chart PostgreSQL: its migration Job can only run after the install (post-install), so the pods must migrate at start" }}
{{- end }}
{{- end }}
{{- /* cache */}}
{{- if and $v.redis.enabled (or $v.externalRedis.url $v.externalRedis.existingSecret) }}
{{- fail "externalRedis is set while redis.enabled is true: set redis.enabled=false to use the external Redis" }}
{{- end }}
{{- if and (eq $cache "redis") (not (include "mcp-gateway.redis.mode" .)) }}
{{- fail "config.CACHE_TYPE=redis needs Redis: enable redis or set externalRedis.url" }}
{{- end }}
{{- if eq $cache "memory" }}
{{- if $multiPod }}
{{- fail "CACHE_TYPE=memory keeps sessions in one process: with more than one pod use Redis (redis.enabled or externalRedis.url)" }}
{{- end }}
{{- if and (ne $workers "1") (ne $workers "auto") }}
{{- fail (printf "config.WORKERS=%s with CACHE_TYPE=memory: the gateway refuses to start; use WORKERS=1 or Redis" $workers) }}
{{- end }}
{{- end }}
{{- if and $v.externalRedis.url (not (regexMatch "^rediss?://" $v.externalRedis.url)) }}
{{- fail "externalRedis.url must be redis://... or rediss://..." }}
{{- end }}
{{- /* scaling */}}
{{- if and $v.hpa.enabled (gt (int $v.hpa.minReplicas) (int $v.hpa.maxReplicas)) }}
{{- fail (printf "hpa.minReplicas (%d) is above hpa.maxReplicas (%d)" (int $v.hpa.minReplicas) (int $v.hpa.maxReplicas)) }}
{{- end }}
{{- if $v.pdb.enabled }}
{{- if and (not (kindIs "invalid" $v.pdb.minAvailable)) (not (kindIs "invalid" $v.pdb.maxUnavailable)) }}
{{- fail "pdb: set minAvailable or maxUnavailable, not both" }}
{{- end }}
{{- $minPods := ternary (int $v.hpa.minReplicas) (int $v.replicaCount) $v.hpa.enabled }}
{{- if and (not (kindIs "invalid" $v.pdb.minAvailable)) (not (kindIs "string" $v.pdb.minAvailable)) }}
{{- if ge (int $v.pdb.minAvailable) $minPods }}
{{- fail (printf "pdb.minAvailable (%d) must stay below the smallest replica count (%d), or no node can ever be drained" (int $v.pdb.minAvailable) $minPods) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* connection budget */}}
{{- if and $v.connectionBudget.check (ne $dbMode "sqlite") }}
{{- $max := ternary (int $v.postgresql.maxConnections) (int $v.connectionBudget.maxConnections) $v.postgresql.enabled }}
{{- if gt $max 0 }}
{{- if eq $workers "auto" }}
{{- fail "config.WORKERS=auto counts the node's cores, so the connection budget cannot be checked: set config.WORKERS to a number (or connectionBudget.check=false)" }}
{{- end }}
{{- $pods := int (include "mcp-gateway.maxPods" .) }}
{{- $perWorker := add (int $v.config.DB_POOL_SIZE) (int $v.config.DB_MAX_OVERFLOW) }}
{{- $need := mul $pods (int $workers) $perWorker }}
{{- $budget := sub $max (int $v.connectionBudget.headroom) }}
{{- if gt $need $budget }}
{{- fail (printf "connection budget: %d pods (max replicas + surge) x %s workers x (DB_POOL_SIZE + DB_MAX_OVERFLOW = %d) = %d connections > max_connections %d - headroom %d = %d; lower the pools, WORKERS or maxReplicas, or raise max_connections" $pods $workers $perWorker $need $max (int $v.connectionBudget.headroom) $budget) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* metrics */}}
{{- if and $v.serviceMonitor.enabled $v.config.AUTH_REQUIRED (empty $v.serviceMonitor.basicAuth) (empty $v.serviceMonitor.authorization) }}
{{- fail "serviceMonitor: /metrics requires credentials while config.AUTH_REQUIRED is true; set serviceMonitor.basicAuth or serviceMonitor.authorization" }}
{{- end }}
{{- end }}
