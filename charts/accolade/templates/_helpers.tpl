{{/*
Names, labels and the pieces every workload shares. Names are cut at 63 characters,
the limit of a DNS label, which Service names must fit.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "accolade.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, or just the release name when it already holds the chart name. */}}
{{- define "accolade.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one component's objects: <fullname>-<component>. Takes (dict "root" $ "name" "gateway"). */}}
{{- define "accolade.componentName" -}}
{{- printf "%s-%s" (include "accolade.fullname" .root | trunc (int (sub 62 (len .name)))) .name | trimSuffix "-" -}}
{{- end -}}

{{- define "accolade.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: never change them after a release exists, a Deployment's selector is
immutable. Takes (dict "root" $ "component" "gateway"); the component is optional.
*/}}
{{- define "accolade.selectorLabels" -}}
app.kubernetes.io/name: {{ include "accolade.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Standard labels of every object. Takes (dict "root" $ "component" "gateway"); the component is optional. */}}
{{- define "accolade.labels" -}}
helm.sh/chart: {{ include "accolade.chart" .root }}
{{ include "accolade.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: accolade
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Annotations of every object (commonAnnotations), merged with `extra`. Takes (dict "root" $ "extra" map). */}}
{{- define "accolade.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) .root.Values.commonAnnotations -}}
{{- with $all }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{/* The image reference: registry/repository, then @digest or :tag (the chart's appVersion by default). */}}
{{- define "accolade.image" -}}
{{- $image := .Values.image -}}
{{- $repository := $image.repository -}}
{{- if $image.registry }}{{ $repository = printf "%s/%s" $image.registry $image.repository }}{{ end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository ($image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "accolade.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "accolade.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
One service's settings: the entry of .Values.services merged onto .Values.defaults
(maps key by key; scalars and lists of the entry replace the defaults'). Returns YAML;
the templates that loop over services merge in place instead, keeping number types.
*/}}
{{- define "accolade.serviceValues" -}}
{{- $entry := index .root.Values.services .name | default dict -}}
{{- toYaml (mustMergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $entry)) -}}
{{- end -}}

{{/* Kafka security protocol from the TLS and SASL switches. */}}
{{- define "accolade.kafka.securityProtocol" -}}
{{- $kafka := .Values.kafka -}}
{{- if and $kafka.tls.enabled $kafka.sasl.enabled -}}SASL_SSL
{{- else if $kafka.sasl.enabled -}}SASL_PLAINTEXT
{{- else if $kafka.tls.enabled -}}SSL
{{- else -}}PLAINTEXT
{{- end -}}
{{- end -}}

{{/* Where the CA bundle of the brokers is mounted. */}}
{{- define "accolade.kafka.caDir" -}}/etc/accolade/kafka-ca{{- end -}}

{{/* True (non-empty) when the chart must hold the database URL in a Secret of its own. */}}
{{- define "accolade.secret.hasDatabaseUrl" -}}
{{- if and (not .Values.postgresql.existingSecret) .Values.postgresql.dsn }}true{{ end -}}
{{- end -}}

{{/* True (non-empty) when the chart must hold the SASL password in a Secret of its own. */}}
{{- define "accolade.secret.hasSaslPassword" -}}
{{- $sasl := .Values.kafka.sasl -}}
{{- if and $sasl.enabled (not $sasl.existingSecret) $sasl.password }}true{{ end -}}
{{- end -}}

{{/* True (non-empty) when the chart creates a Secret: only when the values carry credentials. */}}
{{- define "accolade.secret.create" -}}
{{- if or (include "accolade.secret.hasDatabaseUrl" .) (include "accolade.secret.hasSaslPassword" .) }}true{{ end -}}
{{- end -}}

{{/*
Refuses values that cannot work, naming what to set. Called by every template that
renders a workload, so `helm template` and `helm install` both stop early.
*/}}
{{- define "accolade.validate" -}}
{{- if not (or .Values.postgresql.dsn .Values.postgresql.existingSecret) -}}
{{- fail "postgresql: set postgresql.dsn (a libpq URI such as postgresql://user:password@host:5432/accolade) or postgresql.existingSecret (a Secret holding it under postgresql.existingSecretKey)" -}}
{{- end -}}
{{- if not .Values.kafka.bootstrapServers -}}
{{- fail "kafka: set kafka.bootstrapServers (host:port of the brokers, comma-separated)" -}}
{{- end -}}
{{- $sasl := .Values.kafka.sasl -}}
{{- if $sasl.enabled -}}
{{- if not (or $sasl.password $sasl.existingSecret) -}}
{{- fail "kafka.sasl: set kafka.sasl.password or kafka.sasl.existingSecret (a Secret holding it under kafka.sasl.existingSecretPasswordKey)" -}}
{{- end -}}
{{- if not (or $sasl.username (and $sasl.existingSecret $sasl.existingSecretUsernameKey)) -}}
{{- fail "kafka.sasl: set kafka.sasl.username, or kafka.sasl.existingSecret with kafka.sasl.existingSecretUsernameKey" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls: set tls.existingSecret (a Secret holding tls.crt, tls.key and ca.crt, such as a cert-manager Certificate's)" -}}
{{- end -}}
{{- if and .Values.kafka.strimzi.topics.enabled (not .Values.kafka.strimzi.topics.clusterName) -}}
{{- fail "kafka.strimzi.topics: set kafka.strimzi.topics.clusterName (the strimzi.io/cluster label of the Kafka cluster)" -}}
{{- end -}}
{{- /* The longest a topic keeps a message: its retention, or the KafkaTopics' own. */ -}}
{{- $topicRetention := float64 .Values.kafka.topics.retentionSeconds -}}
{{- with index .Values.kafka.strimzi.topics.config "retention.ms" -}}
{{- $topicRetention = maxf $topicRetention (divf . 1000) -}}
{{- end -}}
{{- $redelivery := addf .Values.config.outboxRetentionSeconds $topicRetention -}}
{{- if le (float64 .Values.config.inboxRetentionSeconds) $redelivery -}}
{{- fail (printf "config.inboxRetentionSeconds must be longer than config.outboxRetentionSeconds plus the topics' retention (%v s): an event can be delivered again that long after it was applied" $redelivery) -}}
{{- end -}}
{{- end -}}

{{/*
A number as the services read it: whole numbers without an exponent (values arrive as
floats, which would print 1209600 as 1.2096e+06), others as they are.
*/}}
{{- define "accolade.number" -}}
{{- if eq (float64 .) (float64 (int64 .)) -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- end -}}

{{/*
The non-secret settings every process of the release reads (the services and the
migration job), as a YAML map of ACCOLADE_* names to strings.
*/}}
{{- define "accolade.sharedSettings" -}}
{{- $kafka := .Values.kafka -}}
{{- $protocol := include "accolade.kafka.securityProtocol" . -}}
ACCOLADE_KAFKA_BOOTSTRAP: {{ $kafka.bootstrapServers | quote }}
ACCOLADE_KAFKA_SECURITY_PROTOCOL: {{ $protocol | quote }}
{{- if $kafka.sasl.enabled }}
ACCOLADE_KAFKA_SASL_MECHANISM: {{ $kafka.sasl.mechanism | quote }}
{{- if not (and $kafka.sasl.existingSecret $kafka.sasl.existingSecretUsernameKey) }}
ACCOLADE_KAFKA_SASL_USERNAME: {{ $kafka.sasl.username | quote }}
{{- end }}
{{- end }}
{{- if and $kafka.tls.enabled $kafka.tls.existingSecret }}
ACCOLADE_KAFKA_SSL_CAFILE: {{ printf "%s/ca.crt" (include "accolade.kafka.caDir" .) | quote }}
{{- end }}
ACCOLADE_TOPIC_NAMESPACE: {{ $kafka.topics.namespace | quote }}
ACCOLADE_TOPIC_PARTITIONS: {{ $kafka.topics.partitions | toString | quote }}
ACCOLADE_TOPIC_REPLICATION_FACTOR: {{ $kafka.topics.replicationFactor | toString | quote }}
ACCOLADE_TOPIC_RETENTION_SECONDS: {{ include "accolade.number" $kafka.topics.retentionSeconds | quote }}
ACCOLADE_OUTBOX_RETENTION_SECONDS: {{ include "accolade.number" .Values.config.outboxRetentionSeconds | quote }}
ACCOLADE_INBOX_RETENTION_SECONDS: {{ include "accolade.number" .Values.config.inboxRetentionSeconds | quote }}
ACCOLADE_INTAKE_RETENTION_SECONDS: {{ include "accolade.number" .Values.config.intakeRetentionSeconds | quote }}
ACCOLADE_RATE_LIMIT_INTAKE_PER_SECOND: {{ include "accolade.number" .Values.config.rateLimitIntakePerSecond | quote }}
ACCOLADE_RATE_LIMIT_READS_PER_SECOND: {{ include "accolade.number" .Values.config.rateLimitReadsPerSecond | quote }}
ACCOLADE_NOTIFICATION_RETENTION_SECONDS: {{ include "accolade.number" .Values.config.notificationRetentionSeconds | quote }}
ACCOLADE_PURGE_INTERVAL_SECONDS: {{ include "accolade.number" .Values.config.purgeIntervalSeconds | quote }}
ACCOLADE_EVENT_LATENESS_SECONDS: {{ include "accolade.number" .Values.config.eventLatenessSeconds | quote }}
ACCOLADE_LOG_FORMAT: {{ .Values.config.logFormat | quote }}
ACCOLADE_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
{{- end -}}

{{/*
Environment variables read from Secrets: the database URL and the SASL credentials.
Takes (dict "root" $ "secretName" name), the name of the chart's own Secret to use when
the values carry the credentials (the migration hook has a Secret of its own).
*/}}
{{- define "accolade.secretEnv" -}}
{{- $root := .root -}}
{{- $pg := $root.Values.postgresql -}}
- name: ACCOLADE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if $pg.existingSecret }}
      name: {{ $pg.existingSecret }}
      key: {{ $pg.existingSecretKey }}
      {{- else }}
      name: {{ .secretName }}
      key: database-url
      {{- end }}
{{- $sasl := $root.Values.kafka.sasl }}
{{- if $sasl.enabled }}
{{- if and $sasl.existingSecret $sasl.existingSecretUsernameKey }}
- name: ACCOLADE_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $sasl.existingSecret }}
      key: {{ $sasl.existingSecretUsernameKey }}
{{- end }}
- name: ACCOLADE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- if $sasl.existingSecret }}
      name: {{ $sasl.existingSecret }}
      key: {{ $sasl.existingSecretPasswordKey }}
      {{- else }}
      name: {{ .secretName }}
      key: kafka-sasl-password
      {{- end }}
{{- end }}
{{- end -}}

{{/* Volumes every Accolade pod has: a writable /tmp and, with TLS, the brokers' CA bundle. Takes (dict "root" $ "tmpSizeLimit" quantity). */}}
{{- define "accolade.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .tmpSizeLimit }}
{{- $tls := .root.Values.kafka.tls }}
{{- if and $tls.enabled $tls.existingSecret }}
- name: kafka-ca
  secret:
    secretName: {{ $tls.existingSecret }}
    defaultMode: 0444
    items:
      - key: {{ $tls.caKey }}
        path: ca.crt
{{- end }}
{{- if .root.Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ .root.Values.tls.existingSecret }}
    defaultMode: 0444
{{- end }}
{{- end -}}

{{- define "accolade.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- $tls := .Values.kafka.tls }}
{{- if and $tls.enabled $tls.existingSecret }}
- name: kafka-ca
  mountPath: {{ include "accolade.kafka.caDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: {{ include "accolade.tls.dir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Where the services' own certificate, key and CA bundle are mounted. */}}
{{- define "accolade.tls.dir" -}}/etc/accolade/tls{{- end -}}

{{/*
Every Kafka topic of the platform: name (the resource suffix), topic (the full topic
name) and whether it is compacted or a dead-letter topic. The logical topics are those
of services/accolade/runtime/settings.py TOPIC_NAMES; the dead-letter topics are one per
consumer (<service>.<consumer>), as the services declare them.
*/}}
{{- define "accolade.kafka.topics" -}}
{{- $ns := .Values.kafka.topics.namespace -}}
{{- $topics := list -}}
{{- range list "activity" "feedback" "roster" "awards" "challenges" "leaderboards" "identity" -}}
{{- $topics = append $topics (dict "name" . "topic" (printf "%s.%s.v1" $ns .) "compacted" (has . (list "roster" "identity")) "deadLetter" false) -}}
{{- end -}}
{{- range list "gateway.archive" "gateway.notifications" "feedback.roster" "achievements.badges" "achievements.roster" "challenges.progress" "leaderboards.scores" "leaderboards.roster" -}}
{{- $topics = append $topics (dict "name" (printf "%s-dlq" (replace "." "-" .)) "topic" (printf "%s.%s.dlq.v1" $ns .) "compacted" false "deadLetter" true) -}}
{{- end -}}
{{- toYaml (dict "topics" $topics) -}}
{{- end -}}
