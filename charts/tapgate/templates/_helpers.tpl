{{/*
Shared named templates. Per-component templates receive (dict "root" $ "name" <component> "c" <component values>).
*/}}

{{- define "tapgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tapgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tapgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Component name -> values key (ranged over in key order). */}}
{{- define "tapgate.components" -}}
ws-gateway: wsGateway
presence: presence
user-status: userStatus
policy: policy
{{- end }}

{{/*
Object name of a component: <fullname>-<component><suffix>, at most 63 characters. The release part is cut,
never the component or suffix, so long release names still give distinct, valid DNS labels.
Input: dict root, name, optional suffix (e.g. "-metrics").
*/}}
{{- define "tapgate.componentName" -}}
{{- $tail := printf "-%s%s" .name (.suffix | default "") }}
{{- printf "%s%s" (include "tapgate.fullname" .root | trunc (int (sub 63 (len $tail))) | trimSuffix "-") $tail }}
{{- end }}

{{- define "tapgate.labels" -}}
helm.sh/chart: {{ include "tapgate.chart" .root }}
{{ include "tapgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: tapgate
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Input: dict root, name (a component, or "" for release-wide objects). */}}
{{- define "tapgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tapgate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}
{{- end }}

{{- define "tapgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tapgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Input: dict root, name, c. */}}
{{- define "tapgate.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := .c.image.repository | default (printf "%s/%s/%s" $img.registry $img.repository .name | trimPrefix "/") -}}
{{- printf "%s:%s" $repo (.c.image.tag | default $img.tag | default .root.Chart.AppVersion) }}
{{- end }}

{{/* Same naming rule as the subcharts' own fullname helpers, so Services and Secrets are found. */}}
{{- define "tapgate.dependencyFullname" -}}
{{- $sub := index .root.Values .chart -}}
{{- if $sub.fullnameOverride }}
{{- $sub.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .chart $sub.nameOverride }}
{{- if contains $name .root.Release.Name }}
{{- .root.Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .root.Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
NATS client URLs, comma-separated. In-chart with the cluster on: every server's per-pod address on the NATS
chart's headless Service (its cluster sets no_advertise, so a client learns no server it was not given).
*/}}
{{- define "tapgate.natsServers" -}}
{{- if .Values.nats.enabled }}
{{- $nats := include "tapgate.dependencyFullname" (dict "root" . "chart" "nats") }}
{{- $cluster := .Values.nats.config.cluster | default dict }}
{{- if $cluster.enabled }}
{{- $urls := list }}
{{- range $i := until (int ($cluster.replicas | default 3)) }}
{{- $urls = append $urls (printf "nats://%s-%d.%s-headless:4222" $nats $i $nats) }}
{{- end }}
{{- join "," $urls }}
{{- else }}
{{- printf "nats://%s:4222" $nats }}
{{- end }}
{{- else }}
{{- join "," .Values.externalNats.servers }}
{{- end }}
{{- end }}

{{/*
[nats] replicas: JetStream replicas of every stream and KV bucket. In-chart it follows the NATS cluster
(R3 on 3 or more servers, R1 on one); for external NATS it is externalNats.replicas.
*/}}
{{- define "tapgate.natsReplicas" -}}
{{- if .Values.nats.enabled }}
{{- $cluster := .Values.nats.config.cluster | default dict }}
{{- if $cluster.enabled }}
{{- min 3 (int ($cluster.replicas | default 3)) }}
{{- else }}1{{ end }}
{{- else }}
{{- int64 .Values.externalNats.replicas }}
{{- end }}
{{- end }}

{{/* Whether the in-chart Redis runs Sentinels (Bitnami: architecture replication + sentinel.enabled). */}}
{{- define "tapgate.inChartSentinel" -}}
{{- if and .Values.redis.enabled (eq (.Values.redis.architecture | default "standalone") "replication") (.Values.redis.sentinel | default dict).enabled }}true{{ end }}
{{- end }}

{{- define "tapgate.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- $redis := include "tapgate.dependencyFullname" (dict "root" . "chart" "redis") }}
{{- if include "tapgate.inChartSentinel" . }}
{{- /* With Sentinel the Bitnami chart has no -master Service; the url gives only the scheme and db here. */}}
{{- printf "redis://%s:6379/0" $redis }}
{{- else }}
{{- printf "redis://%s-master:6379/0" $redis }}
{{- end }}
{{- else }}
{{- .Values.externalRedis.url }}
{{- end }}
{{- end }}

{{/*
[redis] sentinels as a list of host:port (YAML `sentinels: [...]`); empty without Sentinel. In-chart: the
Sentinel beside each Redis pod of the Bitnami StatefulSet <redis>-node, by its headless Service address.
*/}}
{{- define "tapgate.redisSentinels" -}}
{{- $list := list }}
{{- if include "tapgate.inChartSentinel" . }}
{{- $redis := include "tapgate.dependencyFullname" (dict "root" . "chart" "redis") }}
{{- $port := int .Values.redis.sentinel.containerPorts.sentinel }}
{{- range $i := until (int ((.Values.redis.replica | default dict).replicaCount | default 3)) }}
{{- $list = append $list (printf "%s-node-%d.%s-headless:%d" $redis $i $redis $port) }}
{{- end }}
{{- else if not .Values.redis.enabled }}
{{- $list = .Values.externalRedis.sentinels }}
{{- end }}
{{- dict "sentinels" $list | toYaml }}
{{- end }}

{{/* [redis] master_name, when Sentinels are used. */}}
{{- define "tapgate.redisMasterName" -}}
{{- if .Values.redis.enabled }}
{{- /* Bitnami's own default when the value is removed. */}}
{{- .Values.redis.sentinel.masterSet | default "mymaster" }}
{{- else }}
{{- .Values.externalRedis.masterName }}
{{- end }}
{{- end }}

{{/* The Secret and key holding the Redis password, as "name/key"; empty when Redis has no password. */}}
{{- define "tapgate.redisPasswordRef" -}}
{{- if .Values.redis.enabled }}
{{- if .Values.redis.auth.enabled }}
{{- with .Values.redis.auth.existingSecret }}
{{- printf "%s/%s" . ($.Values.redis.auth.existingSecretPasswordKey | default "redis-password") }}
{{- else }}
{{- /* The Secret the redis chart generates always holds the key redis-password. */}}
{{- printf "%s/redis-password" (include "tapgate.dependencyFullname" (dict "root" . "chart" "redis")) }}
{{- end }}
{{- end }}
{{- else if .Values.externalRedis.passwordSecret.name }}
{{- printf "%s/%s" .Values.externalRedis.passwordSecret.name .Values.externalRedis.passwordSecret.key }}
{{- end }}
{{- end }}

{{/*
The Secret and key holding the Sentinels' password, as "name/key"; empty when they have none. The Bitnami
Sentinels take the Redis password while auth.sentinel is true.
*/}}
{{- define "tapgate.redisSentinelPasswordRef" -}}
{{- if include "tapgate.inChartSentinel" . }}
{{- if ne (toString .Values.redis.auth.sentinel) "false" }}
{{- include "tapgate.redisPasswordRef" . }}
{{- end }}
{{- else if and (not .Values.redis.enabled) .Values.externalRedis.sentinels .Values.externalRedis.sentinelPasswordSecret.name }}
{{- printf "%s/%s" .Values.externalRedis.sentinelPasswordSecret.name .Values.externalRedis.sentinelPasswordSecret.key }}
{{- end }}
{{- end }}

{{/*
Seconds a component's pod may take to stop. The gateway's is derived from its drain ([gateway] drain_*_ms)
plus its preStop sleep and a 10 s margin, unless set; a set value below that fails the render.
Input: dict root, name, c.
*/}}
{{- define "tapgate.terminationGracePeriodSeconds" -}}
{{- $c := .c }}
{{- if eq .name "ws-gateway" }}
{{- $drain := .root.Values.wsGateway.drain }}
{{- $drainMs := add $drain.delayMs $drain.spreadMs $drain.timeoutMs }}
{{- $needed := add $c.preStopSleepSeconds (div (add $drainMs 999) 1000) 10 }}
{{- if kindIs "invalid" $c.terminationGracePeriodSeconds }}
{{- $needed }}
{{- else if lt (int $c.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "tapgate: wsGateway.terminationGracePeriodSeconds=%d is too short for the drain: it needs at least %d (preStopSleepSeconds + (drain.delayMs + drain.spreadMs + drain.timeoutMs) / 1000 + 10 s margin); leave it empty to derive it" (int $c.terminationGracePeriodSeconds) (int $needed)) }}
{{- else }}
{{- int64 $c.terminationGracePeriodSeconds }}
{{- end }}
{{- else }}
{{- int64 $c.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* Which shared dependencies a component talks to. Input: component name. */}}
{{- define "tapgate.usesRedis" -}}
{{- if has . (list "presence" "user-status") }}true{{ end }}
{{- end }}
{{- define "tapgate.usesLdap" -}}
{{- if has . (list "user-status" "policy") }}true{{ end }}
{{- end }}

{{/* Fails the render early with a message that names the value to fix. */}}
{{- define "tapgate.validate" -}}
{{- if and (not .Values.nats.enabled) (empty .Values.externalNats.servers) }}
{{- fail "tapgate: set externalNats.servers when nats.enabled=false" }}
{{- end }}
{{- if and .Values.nats.enabled (not .Values.nats.config.jetstream.enabled) }}
{{- fail "tapgate: nats.config.jetstream.enabled must be true (policy and enrollments live in JetStream KV)" }}
{{- end }}
{{- if and (or .Values.presence.enabled .Values.userStatus.enabled) (not .Values.redis.enabled) (empty .Values.externalRedis.url) }}
{{- fail "tapgate: set externalRedis.url when redis.enabled=false" }}
{{- end }}
{{- $gw := .Values.wsGateway }}
{{- if and (eq $gw.standard.protocol "wss") (empty $gw.standard.tlsSecretName) }}
{{- fail "tapgate: wsGateway.standard.protocol=wss needs wsGateway.standard.tlsSecretName (a kubernetes.io/tls Secret with tls.crt, tls.key, ca.crt)" }}
{{- end }}
{{- if and $gw.webapi.enabled (eq $gw.webapi.protocol "wss") (empty $gw.webapi.tlsSecretName) }}
{{- fail "tapgate: wsGateway.webapi.protocol=wss needs wsGateway.webapi.tlsSecretName (a kubernetes.io/tls Secret with tls.crt, tls.key, ca.crt)" }}
{{- end }}
{{- if and $gw.webapi.enabled (eq (int $gw.standard.port) (int $gw.webapi.port)) }}
{{- fail "tapgate: wsGateway.standard.port and wsGateway.webapi.port must differ" }}
{{- end }}
{{- if or (eq (int $gw.standard.port) (int .Values.http.port)) (and $gw.webapi.enabled (eq (int $gw.webapi.port) (int .Values.http.port))) }}
{{- fail "tapgate: http.port must differ from the gateway's standard and webapi ports" }}
{{- end }}
{{- range $name, $key := include "tapgate.components" . | fromYaml }}
{{- $c := index $.Values $key }}
{{- if ge (int $c.preStopSleepSeconds) (int (include "tapgate.terminationGracePeriodSeconds" (dict "root" $ "name" $name "c" $c))) }}
{{- fail (printf "tapgate: %s.preStopSleepSeconds must be shorter than %s.terminationGracePeriodSeconds" $key $key) }}
{{- end }}
{{- end }}
{{- if and (gt (int $gw.preStopSleepSeconds) 0) (gt (int $gw.drain.delayMs) 0) }}
{{- fail "tapgate: set wsGateway.preStopSleepSeconds=0 or wsGateway.drain.delayMs=0, not both: each waits for load balancers to stop sending new connections, one after the other (docs/operations.md \"Running on many hosts\")" }}
{{- end }}
{{- if and .Values.nats.enabled (.Values.nats.config.cluster | default dict).enabled (lt (int (.Values.nats.config.cluster.replicas | default 3)) 3) }}
{{- fail "tapgate: nats.config.cluster.replicas must be at least 3 (JetStream needs a majority of its servers; 2 cannot lose one), or set nats.config.cluster.enabled=false for a single server" }}
{{- end }}
{{- if and .Values.redis.enabled (.Values.redis.sentinel | default dict).enabled (ne (.Values.redis.architecture | default "standalone") "replication") }}
{{- fail "tapgate: redis.sentinel.enabled needs redis.architecture=replication (the Bitnami chart runs Sentinels only beside replicated Redis)" }}
{{- end }}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.sentinels (empty .Values.externalRedis.masterName) }}
{{- fail "tapgate: externalRedis.sentinels needs externalRedis.masterName (the name the Sentinels monitor the primary under)" }}
{{- end }}
{{- if and .Values.userStatus.enabled (eq .Values.userStatus.directory "file") (empty .Values.userStatus.usersConfigMap.name) }}
{{- fail "tapgate: userStatus.directory=file needs userStatus.usersConfigMap.name" }}
{{- end }}
{{- if and .Values.userStatus.enabled (eq .Values.userStatus.directory "ldap") (empty .Values.ldap.url) }}
{{- fail "tapgate: userStatus.directory=ldap needs ldap.url, ldap.baseDn, ldap.bindDn and ldap.bindPasswordSecret (user-status refuses to start without a directory); for a trial without Active Directory set userStatus.directory=file and userStatus.usersConfigMap.name" }}
{{- end }}
{{- if and .Values.ldap.url (or (empty .Values.ldap.baseDn) (empty .Values.ldap.bindDn)) }}
{{- fail "tapgate: ldap.url needs ldap.baseDn and ldap.bindDn (user-status and policy refuse to start without them)" }}
{{- end }}
{{- if and .Values.redis.enabled .Values.redis.auth.existingSecretPasswordKey (empty .Values.redis.auth.existingSecret) }}
{{- fail "tapgate: redis.auth.existingSecretPasswordKey applies only with redis.auth.existingSecret (the Secret the redis chart generates holds redis-password)" }}
{{- end }}
{{- if and .Values.ldap.url (empty .Values.ldap.bindPasswordSecret.name) }}
{{- fail "tapgate: ldap.url needs ldap.bindPasswordSecret.name (the bind password is only ever read from a file)" }}
{{- end }}
{{- if and .Values.ldap.caSecret.name .Values.ldap.caConfigMap.name }}
{{- fail "tapgate: set ldap.caSecret or ldap.caConfigMap, not both" }}
{{- end }}
{{- end }}

{{/* Input: dict root, name, c. The Deployment of one component; everything component-specific is below. */}}
{{- define "tapgate.deployment" -}}
{{- $root := .root }}
{{- $c := .c }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tapgate.componentName" . }}
  labels:
    {{- include "tapgate.labels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ int64 $c.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Keep full capacity during a rollout: a new pod is ready before an old one starts draining.
      maxUnavailable: 0
      maxSurge: 25%
  selector:
    matchLabels:
      {{- include "tapgate.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "tapgate.labels" . | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "tapgate.serviceAccountName" $root }}
      automountServiceAccountToken: false
      # Service links would inject variables such as TAPGATE_NATS_PORT for a release named "tapgate",
      # which the config loader rejects as unknown keys of a known section.
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ include "tapgate.terminationGracePeriodSeconds" . }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ int64 $root.Values.securityContext.runAsUser }}
        runAsGroup: {{ int64 $root.Values.securityContext.runAsGroup }}
        fsGroup: {{ int64 $root.Values.securityContext.fsGroup }}
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ .name }}
          image: {{ include "tapgate.image" . | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ int64 $root.Values.http.port }}
              protocol: TCP
            {{- if eq .name "ws-gateway" }}
            {{- include "tapgate.gateway.containerPorts" $root | nindent 12 }}
            {{- end }}
          env:
            {{- include "tapgate.env" . | nindent 12 }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          {{- /* 0 = no preStop hook: Kubernetes rejects a zero sleep action without a feature gate. */}}
          {{- if gt (int $c.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              {{- if semverCompare ">=1.30-0" $root.Capabilities.KubeVersion.Version }}
              sleep:
                seconds: {{ int64 $c.preStopSleepSeconds }}
              {{- else }}
              exec:
                command: ['sleep', {{ int64 $c.preStopSleepSeconds | quote }}]
              {{- end }}
          {{- end }}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ['ALL']
            seccompProfile:
              type: RuntimeDefault
          {{- with $c.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            {{- include "tapgate.volumeMounts" . | nindent 12 }}
            {{- with $c.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "tapgate.volumes" . | nindent 8 }}
        {{- with $c.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $c.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml $c.topologySpreadConstraints | nindent 8 }}
      {{- else if or $root.Values.topologySpread.hostname $root.Values.topologySpread.zone }}
      # Spread over nodes and zones: losing one costs a share of the replicas, never all of them.
      topologySpreadConstraints:
        {{- range $key, $when := dict "kubernetes.io/hostname" $root.Values.topologySpread.hostname "topology.kubernetes.io/zone" $root.Values.topologySpread.zone }}
        {{- if $when }}
        - maxSkew: 1
          topologyKey: {{ $key }}
          whenUnsatisfiable: {{ $when }}
          labelSelector:
            matchLabels:
              {{- include "tapgate.selectorLabels" $ | nindent 14 }}
        {{- end }}
        {{- end }}
      {{- end }}
{{- end }}

{{/* Input: the root context. */}}
{{- define "tapgate.gateway.containerPorts" -}}
- name: standard
  containerPort: {{ int64 .Values.wsGateway.standard.port }}
  protocol: TCP
{{- if .Values.wsGateway.webapi.enabled }}
- name: webapi
  containerPort: {{ int64 .Values.wsGateway.webapi.port }}
  protocol: TCP
{{- end }}
{{- end }}

{{/*
Files a component reads from Secrets and ConfigMaps, as YAML `files: [{volume, dir, secret | configMap,
items: [{key, path, env}]}]`: each item is mounted at <dir>/<path> and named to the service by <env>, so
secrets reach the process as files and never as environment values. Input: dict root, name, c.
*/}}
{{- define "tapgate.files" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
files:
{{- with $v.externalNats.tokenSecret }}{{ if .name }}
  - volume: nats-token
    dir: /etc/tapgate/secrets/nats
    secret: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: token, env: TAPGATE_NATS_TOKEN_FILE }]
{{- end }}{{ end }}
{{- with $v.externalNats.caSecret }}{{ if .name }}
  - volume: nats-ca
    dir: /etc/tapgate/secrets/nats-ca
    secret: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: ca.crt, env: TAPGATE_NATS_CA_FILE }]
{{- end }}{{ end }}
{{- if include "tapgate.usesRedis" .name }}
{{- $password := include "tapgate.redisPasswordRef" $root }}
{{- $sentinelPassword := include "tapgate.redisSentinelPasswordRef" $root }}
{{- if $password }}
  - volume: redis-password
    dir: /etc/tapgate/secrets/redis
    secret: {{ dir $password }}
    items:
      - { key: {{ base $password | quote }}, path: password, env: TAPGATE_REDIS_PASSWORD_FILE }
      {{- if eq $sentinelPassword $password }}
      - { key: {{ base $password | quote }}, path: sentinel-password, env: TAPGATE_REDIS_SENTINEL_PASSWORD_FILE }
      {{- end }}
{{- end }}
{{- if and $sentinelPassword (ne $sentinelPassword $password) }}
  - volume: redis-sentinel-password
    dir: /etc/tapgate/secrets/redis-sentinel
    secret: {{ dir $sentinelPassword }}
    items: [{ key: {{ base $sentinelPassword | quote }}, path: password, env: TAPGATE_REDIS_SENTINEL_PASSWORD_FILE }]
{{- end }}
{{- end }}
{{- if and (include "tapgate.usesLdap" .name) $v.ldap.url }}
{{- with $v.ldap.bindPasswordSecret }}{{ if .name }}
  - volume: ldap-password
    dir: /etc/tapgate/secrets/ldap
    secret: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: password, env: TAPGATE_LDAP_BIND_PASSWORD_FILE }]
{{- end }}{{ end }}
{{- if $v.ldap.caSecret.name }}
  - volume: ldap-ca
    dir: /etc/tapgate/ldap-ca
    secret: {{ $v.ldap.caSecret.name }}
    items: [{ key: {{ $v.ldap.caSecret.key | quote }}, path: ca.crt, env: TAPGATE_LDAP_CA_FILE }]
{{- else if $v.ldap.caConfigMap.name }}
  - volume: ldap-ca
    dir: /etc/tapgate/ldap-ca
    configMap: {{ $v.ldap.caConfigMap.name }}
    items: [{ key: {{ $v.ldap.caConfigMap.key | quote }}, path: ca.crt, env: TAPGATE_LDAP_CA_FILE }]
{{- end }}
{{- end }}
{{- if eq .name "ws-gateway" }}
{{- with $v.wsGateway }}
{{- if eq .standard.protocol "wss" }}
  - volume: tls-standard
    dir: /etc/tapgate/tls/standard
    secret: {{ .standard.tlsSecretName }}
    items:
      - { key: tls.crt, path: tls.crt, env: TAPGATE_AGENT_CERTFILE }
      - { key: tls.key, path: tls.key, env: TAPGATE_AGENT_KEYFILE }
      - { key: ca.crt, path: ca.crt, env: TAPGATE_AGENT_CACERTFILE }
{{- with .standard.crlSecret }}{{ if .name }}
  - volume: crl-standard
    dir: /etc/tapgate/tls/standard-crl
    secret: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: ca.crl, env: TAPGATE_AGENT_CRLFILE }]
{{- end }}{{ end }}
{{- end }}
{{- if and .webapi.enabled (eq .webapi.protocol "wss") }}
  - volume: tls-webapi
    dir: /etc/tapgate/tls/webapi
    secret: {{ .webapi.tlsSecretName }}
    items:
      - { key: tls.crt, path: tls.crt, env: TAPGATE_WEBAPI_CERTFILE }
      - { key: tls.key, path: tls.key, env: TAPGATE_WEBAPI_KEYFILE }
      - { key: ca.crt, path: ca.crt, env: TAPGATE_WEBAPI_CACERTFILE }
{{- with .webapi.crlSecret }}{{ if .name }}
  - volume: crl-webapi
    dir: /etc/tapgate/tls/webapi-crl
    secret: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: ca.crl, env: TAPGATE_WEBAPI_CRLFILE }]
{{- end }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq .name "user-status" }}
{{- with $v.userStatus.usersConfigMap }}{{ if .name }}
  - volume: users
    dir: /etc/tapgate/users
    configMap: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: users.yaml, env: TAPGATE_USER_STATUS_USERS_FILE }]
{{- end }}{{ end }}
{{- with $v.userStatus.adminTokenSecret }}{{ if .name }}
  - volume: admin-token
    dir: /etc/tapgate/secrets/admin
    secret: {{ .name }}
    items: [{ key: {{ .key | quote }}, path: token, env: TAPGATE_USER_STATUS_ADMIN_TOKEN_FILE }]
{{- end }}{{ end }}
{{- end }}
{{- if eq .name "policy" }}
  - volume: admin-token
    dir: /etc/tapgate/secrets/admin
    secret: {{ include "tapgate.policyAdminSecret" $root }}
    items: [{ key: {{ $v.policy.adminTokenSecret.key | quote }}, path: token, env: TAPGATE_POLICY_ADMIN_TOKEN_FILE }]
{{- end }}
{{- end }}

{{/* The Secret holding the policy service's break-glass admin token: given, or created by the chart. */}}
{{- define "tapgate.policyAdminSecret" -}}
{{- .Values.policy.adminTokenSecret.name | default (printf "%s-policy-admin" (include "tapgate.fullname" .)) }}
{{- end }}

{{/* Environment of every component. Input: dict root, name, c. */}}
{{- define "tapgate.env" -}}
{{- $root := .root -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: TAPGATE_CONFIG
  value: /etc/tapgate/nymi_agent.toml
# The telemetry logger's level; services that do not load [agent] read only this.
- name: TAPGATE_LOG_LEVEL
  value: {{ $root.Values.config.logLevel | quote }}
- name: TAPGATE_HTTP_PORT
  value: {{ int64 $root.Values.http.port | quote }}
- name: TAPGATE_NATS_SERVERS
  value: {{ include "tapgate.natsServers" $root | quote }}
{{- if include "tapgate.usesRedis" .name }}
- name: TAPGATE_REDIS_URL
  value: {{ include "tapgate.redisUrl" $root | quote }}
{{- with (include "tapgate.redisSentinels" $root | fromYaml).sentinels }}
- name: TAPGATE_REDIS_SENTINELS
  value: {{ join "," . | quote }}
- name: TAPGATE_REDIS_MASTER_NAME
  value: {{ include "tapgate.redisMasterName" $root | quote }}
{{- end }}
{{- end }}
{{- if and (include "tapgate.usesLdap" .name) $root.Values.ldap.url }}
{{- with $root.Values.ldap }}
- name: TAPGATE_LDAP_URL
  value: {{ .url | quote }}
- name: TAPGATE_LDAP_BASE_DN
  value: {{ .baseDn | quote }}
- name: TAPGATE_LDAP_BIND_DN
  value: {{ .bindDn | quote }}
- name: TAPGATE_LDAP_START_TLS
  value: {{ .startTls | quote }}
{{- end }}
{{- end }}
{{- if eq .name "ws-gateway" }}
{{- with $root.Values.wsGateway }}
- name: TAPGATE_AGENT_PROTOCOL
  value: {{ .standard.protocol | quote }}
- name: TAPGATE_AGENT_PORT
  value: {{ int64 .standard.port | quote }}
- name: TAPGATE_WEBAPI_ENABLED
  value: {{ .webapi.enabled | quote }}
- name: TAPGATE_WEBAPI_PROTOCOL
  value: {{ .webapi.protocol | quote }}
- name: TAPGATE_WEBAPI_PORT
  value: {{ int64 .webapi.port | quote }}
{{- if and (eq .standard.protocol "wss") .standard.serverName }}
- name: TAPGATE_AGENT_SERVER_NAME
  value: {{ .standard.serverName | quote }}
{{- end }}
{{- if and .webapi.enabled (eq .webapi.protocol "wss") .webapi.serverName }}
- name: TAPGATE_WEBAPI_SERVER_NAME
  value: {{ .webapi.serverName | quote }}
{{- end }}
{{- with .allowedOrigins }}
- name: TAPGATE_GATEWAY_ALLOWED_ORIGINS
  value: {{ join "," . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (eq .name "policy") $root.Values.policy.bootstrapAdmin.enabled }}
- name: TAPGATE_POLICY_BOOTSTRAP_ADMIN_FILE
  value: {{ include "tapgate.bootstrapAdminFile" . }}
- name: TAPGATE_POLICY_BOOTSTRAP_ADMIN_MINUTES
  value: {{ int64 $root.Values.policy.bootstrapAdmin.minutes | quote }}
{{- end }}
{{- if eq .name "user-status" }}
- name: TAPGATE_USER_STATUS_DIRECTORY
  value: {{ $root.Values.userStatus.directory | quote }}
{{- end }}
{{- range (include "tapgate.files" . | fromYaml).files }}
{{- $dir := .dir }}
{{- range .items }}
- name: {{ .env }}
  value: {{ printf "%s/%s" $dir .path }}
{{- end }}
{{- end }}
- name: OTEL_SERVICE_NAME
  value: {{ .name | quote }}
{{- with $root.Values.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- $attributes := printf "k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),service.namespace=%s" $root.Release.Name }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ compact (list $attributes $root.Values.telemetry.resourceAttributes) | join "," | quote }}
{{- with $root.Values.otel.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Where policy writes the bootstrap administrator's one-time code: a pod-private emptyDir. */}}
{{- define "tapgate.bootstrapAdminFile" -}}
/var/run/tapgate/bootstrap/code
{{- end }}

{{/* Whether a component gets the bootstrap-admin emptyDir. Input: dict root, name. */}}
{{- define "tapgate.usesBootstrapAdmin" -}}
{{- if and (eq .name "policy") .root.Values.policy.bootstrapAdmin.enabled }}true{{ end }}
{{- end }}

{{/* Input: dict root, name, c. */}}
{{- define "tapgate.volumeMounts" -}}
- name: config
  mountPath: /etc/tapgate/nymi_agent.toml
  subPath: nymi_agent.toml
  readOnly: true
# Node and its libraries may write temporary files; the root filesystem is read-only.
- name: tmp
  mountPath: /tmp
{{- if include "tapgate.usesBootstrapAdmin" . }}
- name: bootstrap-admin
  mountPath: {{ include "tapgate.bootstrapAdminFile" . | dir }}
{{- end }}
{{- range (include "tapgate.files" . | fromYaml).files }}
- name: {{ .volume }}
  mountPath: {{ .dir }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Input: dict root, name, c. Secret files are readable by their owner and the pod's fsGroup only. */}}
{{- define "tapgate.volumes" -}}
- name: config
  configMap:
    name: {{ include "tapgate.fullname" .root }}-config
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if include "tapgate.usesBootstrapAdmin" . }}
- name: bootstrap-admin
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}
{{- range (include "tapgate.files" . | fromYaml).files }}
- name: {{ .volume }}
  {{- if .secret }}
  secret:
    secretName: {{ .secret }}
    defaultMode: 288 # 0440
  {{- else }}
  configMap:
    name: {{ .configMap }}
  {{- end }}
    items:
      {{- range .items }}
      - key: {{ .key | quote }}
        path: {{ .path }}
      {{- end }}
{{- end }}
{{- end }}

{{/* A ClusterIP Service for a component's http port. Input: dict root, name, c, suffix. */}}
{{- define "tapgate.httpService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tapgate.componentName" . }}
  labels:
    {{- include "tapgate.labels" . | nindent 4 }}
    tapgate.io/metrics: 'true'
spec:
  type: ClusterIP
  sessionAffinity: None
  selector:
    {{- include "tapgate.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ int64 .root.Values.http.port }}
      targetPort: http
      protocol: TCP
{{- end }}

{{/* NetworkPolicy peers/ports for egress to one dependency. Input: dict root, dep ("nats"|"redis"|...). */}}
{{- define "tapgate.egressRule" -}}
{{- $e := index .root.Values.networkPolicy.egress .dep -}}
{{- $ports := list }}
{{- range $e.ports }}{{ $ports = append $ports (int64 .) }}{{ end }}
{{- if eq .dep "redis" }}
{{- /* The Sentinels' ports, taken from their addresses. */}}
{{- range (include "tapgate.redisSentinels" .root | fromYaml).sentinels }}
{{- $ports = append $ports (int64 (regexFind "[0-9]+$" .)) }}
{{- end }}
{{- end }}
- ports:
    {{- range $ports | uniq }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- if and (has .dep (list "nats" "redis")) (index .root.Values .dep).enabled }}
  to:
    - podSelector:
        matchLabels:
          {{- /* The subcharts label their pods with nameOverride when one is set. */}}
          app.kubernetes.io/name: {{ (index .root.Values .dep).nameOverride | default .dep | trunc 63 | trimSuffix "-" }}
          app.kubernetes.io/instance: {{ .root.Release.Name }}
  {{- else if $e.to }}
  to:
    {{- toYaml $e.to | nindent 4 }}
  {{- end }}
{{- end }}
