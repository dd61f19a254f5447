// Rollout on Azure: the Functions app (Flex Consumption, .NET isolated) with a system-assigned identity, its Storage
// account (Functions host, Durable task hub, deployment package, rollout store tables), Log Analytics and Application
// Insights, Key Vault for the notification and signing secrets, and read roles on the scopes the metric queries read.
// Written against the documented resource API versions; not compiled on the project's build machines (no Bicep CLI
// there): run `az bicep build --file infra/main.bicep` before the first deployment.
targetScope = 'resourceGroup'

@description('Short name used in every resource name (letters and digits, 3-11 characters).')
@minLength(3)
@maxLength(11)
param name string = 'rollout'

@description('Region of every resource; must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('.NET version of the isolated worker.')
param dotnetVersion string = '10.0'

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of an instance (MB).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Durable task hub name (3-45 letters and digits); one per environment sharing the storage account.')
param taskHubName string = 'rollout'

@description('Resource groups whose metrics and logs the plans\' criteria read (Azure Monitor sources): the app gets Monitoring Reader and Log Analytics Reader on each.')
param monitoredResourceGroups array = []

@description('Webhook that receives notifications; stored in Key Vault. Empty: notifications go to Application Insights only.')
@secure()
param notifyWebhookUrl string = ''

@description('Key that signs notification bodies (x-rollout-signature); stored in Key Vault. Empty: unsigned.')
@secure()
param notifySigningKey string = ''

@description('Teams Workflows webhook URLs by channel name (plans name the channel: "notify": ["release-ops"]); each is stored in Key Vault as teams-<name>. Names: letters, digits and dashes.')
@secure()
param teamsChannels object = {}

@description('HMAC key of approval links in Teams cards (at least 32 characters); stored in Key Vault. Empty: cards carry no approval links.')
@secure()
param approvalSigningKey string = ''

@description('Force taking the approver from App Service authentication (X-MS-CLIENT-PRINCIPAL-NAME). False leaves it to the platform: on when WEBSITE_AUTH_ENABLED is True.')
param approvalsTrustAppServiceAuthentication bool = false

@description('Hosts an Azure DevOps callback gate\'s PlanUrl may name (Rollout posts the job token there); add an Azure DevOps Server host if you use one.')
param azureDevOpsAllowedHosts string = 'dev.azure.com,*.dev.azure.com,*.visualstudio.com'

@description('Tags on every resource.')
param tags object = {}

var suffix = uniqueString(resourceGroup().id, name)
var storageName = take(toLower('st${name}${suffix}'), 24)
var vaultName = take('kv-${name}-${suffix}', 24)
var deploymentContainer = 'app-package'

// Built-in role definitions.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringReader: '43d0d8ad-25c7-4714-9337-8ba259a9fe05'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}-${suffix}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // identity only: the app, the Durable task hub and the store use the managed identity
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 30
    enablePurgeProtection: true
  }
}

resource webhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(notifyWebhookUrl)) {
  parent: vault
  name: 'notify-webhook-url'
  properties: { value: notifyWebhookUrl }
}

resource signingSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(notifySigningKey)) {
  parent: vault
  name: 'notify-signing-key'
  properties: { value: notifySigningKey }
}

resource teamsSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for channel in items(teamsChannels): {
  parent: vault
  name: 'teams-${channel.key}'
  properties: { value: channel.value }
}]

resource approvalSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(approvalSigningKey)) {
  parent: vault
  name: 'approval-signing-key'
  properties: { value: approvalSigningKey }
}

// Notifications__Teams__<name>: one app setting per channel, each a Key Vault reference.
var teamsSettings = toObject(items(teamsChannels), channel => 'Notifications__Teams__${channel.key}', channel => '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=teams-${channel.key})')

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}-${suffix}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${name}-${suffix}'
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'dotnet-isolated', version: dotnetVersion }
    }
  }
}

// Every setting the app reads (README "Settings"); secrets are Key Vault references resolved with the app's identity.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union(teamsSettings, {
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
    ROLLOUT_TASK_HUB: taskHubName
    Rollout__Store__TableEndpoint: storage.properties.primaryEndpoints.table
    Rollout__Store__TablePrefix: 'rollout'
    Rollout__Notify__WebhookUrl: empty(notifyWebhookUrl) ? '' : '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=notify-webhook-url)'
    Rollout__Notify__SigningKey: empty(notifySigningKey) ? '' : '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=notify-signing-key)'
    Rollout__CommandWaitSeconds: '10'
    Rollout__FlagRefreshSeconds: '5'
    Approvals__SigningKey: empty(approvalSigningKey) ? '' : '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=approval-signing-key)'
    Approvals__TrustAppServiceAuthentication: approvalsTrustAppServiceAuthentication ? 'true' : ''
    Approvals__LinkLifetime: '72h'
    AzureDevOps__AllowedHosts: azureDevOpsAllowedHosts
    Outbox__RetentionDays: '30'
  })
  dependsOn: [blobRole, queueRole, tableRole, secretsRole, webhookSecret, signingSecret, teamsSecrets, approvalSecret]
}

// Storage: blobs (host leases, deployment package, Durable large messages), queues (Durable control and work items),
// tables (Durable history and instances, the rollout store).
resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, app.id, roles.storageBlobDataOwner)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, app.id, roles.storageQueueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, app.id, roles.storageTableDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, app.id, roles.keyVaultSecretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The app's own telemetry can be a criterion's source too (KQL over the workspace).
resource workspaceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: workspace
  name: guid(workspace.id, app.id, roles.logAnalyticsReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.logAnalyticsReader)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

module monitoredReaders 'monitoring-reader.bicep' = [for (target, i) in monitoredResourceGroups: {
  name: 'rollout-monitoring-reader-${i}'
  scope: resourceGroup(target.subscriptionId, target.resourceGroupName)
  params: {
    principalId: app.identity.principalId
    monitoringReaderRoleId: roles.monitoringReader
    logAnalyticsReaderRoleId: roles.logAnalyticsReader
  }
}]

@description('The app\'s name, for `func azure functionapp publish`.')
output functionAppName string = app.name

@description('Base URL of the API (the CLI\'s --url).')
output apiUrl string = 'https://${app.properties.defaultHostName}'

@description('The app\'s identity, for role assignments made elsewhere.')
output principalId string = app.identity.principalId

output storageAccountName string = storage.name
output keyVaultName string = vault.name
